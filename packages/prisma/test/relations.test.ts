// The models a read depends on and a write changes, from the test schema's data model and its referential actions,
// without servers or databases.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseForeignKeys } from "../src/referential-actions.js";
import { RelationGraph, type RuntimeDataModel } from "../src/relations.js";

const schema = readFileSync(new URL("./prisma/sqlite.prisma", import.meta.url), "utf8");
const rel = (name: string, type: string) => ({ name, kind: "object", type });
const scalar = (name: string) => ({ name, kind: "scalar", type: "Int" });
const dataModel: RuntimeDataModel = {
  models: {
    User: { fields: [scalar("id"), rel("posts", "Post"), rel("profile", "Profile")] },
    Profile: { fields: [scalar("id"), scalar("userId"), rel("user", "User")] },
    Post: { fields: [scalar("id"), scalar("authorId"), rel("author", "User"), rel("comments", "Comment")] },
    Comment: { fields: [scalar("id"), scalar("postId"), rel("post", "Post")] },
  },
};
const graph = new RelationGraph(dataModel, parseForeignKeys(schema));
const sorted = (s: Set<string>) => [...s].sort();

describe("parseForeignKeys", () => {
  it("reads the holder, target, columns and actions, with Prisma's defaults", () => {
    const fks = parseForeignKeys(schema);
    expect(fks.map((f) => `${f.holder}.${f.field}->${f.target} ${f.onDelete}/${f.onUpdate}`).sort()).toEqual([
      "Comment.post->Post Cascade/Cascade",
      "Post.author->User Cascade/Cascade",
      "Profile.user->User Cascade/Cascade",
    ]);
    const defaults = parseForeignKeys(`
      model A { id Int @id
        b   B?  @relation(fields: [bId], references: [id]) // optional: SetNull
        bId Int?
        c   C   @relation("x", fields: [cId], references: [id], onDelete: Restrict)
        cId Int
      }`);
    expect(defaults.map((f) => [f.target, f.onDelete, f.onUpdate, f.references])).toEqual([
      ["B", "SetNull", "Cascade", ["id"]],
      ["C", "Restrict", "Cascade", ["id"]],
    ]);
  });
});

describe("readModels", () => {
  it("follows include, select, relation filters, orderBy and _count", () => {
    expect(sorted(graph.readModels("User", { where: { id: 1 } }))).toEqual(["User"]);
    expect(sorted(graph.readModels("Post", { include: { author: true } }))).toEqual(["Post", "User"]);
    expect(sorted(graph.readModels("User", { select: { _count: { select: { posts: true } } } }))).toEqual([
      "Post",
      "User",
    ]);
    expect(
      sorted(graph.readModels("User", { where: { posts: { some: { comments: { none: {} } } } } })),
    ).toEqual(["Comment", "Post", "User"]);
    expect(sorted(graph.readModels("Comment", { orderBy: { post: { author: { id: "asc" } } } }))).toEqual([
      "Comment",
      "Post",
      "User",
    ]);
  });
});

describe("writtenModels", () => {
  it("follows nested writes under data, not relation filters in where", () => {
    expect(sorted(graph.writtenModels("User", "update", { where: { id: 1 }, data: { name: "x" } }))).toEqual([
      "User",
    ]);
    expect(
      sorted(
        graph.writtenModels("User", "updateMany", { where: { posts: { some: {} } }, data: { name: "x" } }),
      ),
    ).toEqual(["User"]);
    expect(
      sorted(
        graph.writtenModels("User", "create", {
          data: { posts: { create: [{ comments: { createMany: { data: [] } } }] } },
        }),
      ),
    ).toEqual(["Comment", "Post", "User"]);
    expect(
      sorted(
        graph.writtenModels("Post", "update", { where: { id: 1 }, data: { author: { connect: { id: 2 } } } }),
      ),
    ).toEqual(["Post", "User"]);
    expect(
      sorted(
        graph.writtenModels("User", "upsert", {
          where: { id: 1 },
          create: {},
          update: { profile: { update: { bio: "b" } } },
        }),
      ),
    ).toEqual(["Profile", "User"]);
    expect(
      sorted(graph.writtenModels("Comment", "createMany", { data: [{ body: "x", postId: 1 }] })),
    ).toEqual(["Comment"]);
  });

  it("follows cascading deletes, including nested ones", () => {
    expect(sorted(graph.writtenModels("User", "delete", { where: { id: 1 } }))).toEqual([
      "Comment",
      "Post",
      "Profile",
      "User",
    ]);
    expect(sorted(graph.writtenModels("Post", "deleteMany", {}))).toEqual(["Comment", "Post"]);
    expect(sorted(graph.writtenModels("Comment", "delete", { where: { id: 1 } }))).toEqual(["Comment"]);
    expect(
      sorted(
        graph.writtenModels("User", "update", { where: { id: 1 }, data: { posts: { deleteMany: {} } } }),
      ),
    ).toEqual(["Comment", "Post", "User"]);
  });

  it("follows onUpdate when a referenced column changes", () => {
    expect(sorted(graph.writtenModels("User", "update", { where: { id: 1 }, data: { id: 5 } }))).toEqual([
      "Post",
      "Profile",
      "User",
    ]);
  });

  it("without the schema's foreign keys, a delete invalidates every related model", () => {
    const blind = new RelationGraph(dataModel, undefined);
    expect(sorted(blind.writtenModels("Comment", "delete", {}))).toEqual([
      "Comment",
      "Post",
      "Profile",
      "User",
    ]);
  });

  it("finds models by name or client property", () => {
    expect(graph.modelNamed("User")).toBe("User");
    expect(graph.modelNamed("user")).toBe("User");
    expect(graph.modelNamed("users")).toBeUndefined();
  });
});
