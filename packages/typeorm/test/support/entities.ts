// Test entities as EntitySchemas: no decorators, so no dependence on emitted decorator metadata (tsx/esbuild emit
// none), and every column has an explicit type.
import { EntitySchema } from "typeorm";

export interface User {
  id: number;
  name: string;
  visits?: number;
  deletedAt?: Date | null;
  posts?: Post[];
}

export interface Post {
  id: number;
  title: string;
  authorId: number;
  author?: User;
  tags?: Tag[];
}

export interface Tag {
  id: number;
  label: string;
}

export interface UserPostCount {
  id: number;
  name: string;
  posts: number | string;
}

export const UserEntity = new EntitySchema<User>({
  name: "User",
  tableName: "user",
  columns: {
    id: { type: "integer", primary: true, generated: "increment" },
    name: { type: "varchar" },
    visits: { type: "integer", default: 0 },
    // `Date` lets each driver pick its timestamp type (datetime on SQLite, timestamp on PostgreSQL).
    deletedAt: { type: Date, deleteDate: true, nullable: true },
  },
  relations: {
    posts: { type: "one-to-many", target: "Post", inverseSide: "author" },
  },
});

export const PostEntity = new EntitySchema<Post>({
  name: "Post",
  tableName: "post",
  columns: {
    id: { type: "integer", primary: true, generated: "increment" },
    title: { type: "varchar" },
    authorId: { type: "integer" },
  },
  relations: {
    author: { type: "many-to-one", target: "User", joinColumn: { name: "authorId" }, inverseSide: "posts" },
    tags: { type: "many-to-many", target: "Tag", joinTable: { name: "post_tags" } },
  },
});

export const TagEntity = new EntitySchema<Tag>({
  name: "Tag",
  tableName: "tag",
  columns: {
    id: { type: "integer", primary: true, generated: "increment" },
    label: { type: "varchar" },
  },
});

/** A view over two tables: writes to either must invalidate cached reads of the view. */
export const UserPostCountView = new EntitySchema<UserPostCount>({
  name: "UserPostCount",
  tableName: "user_post_count",
  type: "view",
  expression: `SELECT u."id" AS "id", u."name" AS "name", COUNT(p."id") AS "posts" FROM "user" u LEFT JOIN "post" p ON p."authorId" = u."id" GROUP BY u."id", u."name"`,
  columns: {
    id: { type: "integer", primary: true },
    name: { type: "varchar" },
    posts: { type: "integer" },
  },
});

export const ENTITIES = [UserEntity, PostEntity, TagEntity, UserPostCountView];
