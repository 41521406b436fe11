// The SQL scanner and table tags, on SQL that TypeORM itself generates (SQLite, in memory) and on hand-written
// PostgreSQL / MySQL / SQL Server shapes. No memcached needed.
import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tablesOfQuery, tableTag } from "../src/index.js";
import { TableTags } from "../src/table-tags.js";
import { ENTITIES, PostEntity, UserEntity, UserPostCountView } from "./support/entities.js";

const names = (sql: string) => tablesOfQuery(sql).map((t) => t.name);

describe("tablesOfQuery", () => {
  it("reads FROM and JOIN tables in every quoting style, schema-qualified or not", () => {
    expect(
      names(`SELECT "u"."id" FROM "public"."user" "u" LEFT JOIN "post" "p" ON "p"."authorId" = "u"."id"`),
    ).toEqual(["user", "post"]);
    expect(names("SELECT `u`.`id` FROM `shop`.`order` `u` INNER JOIN `line` `l` ON 1=1")).toEqual([
      "order",
      "line",
    ]);
    expect(names("SELECT [u].[id] FROM [dbo].[user] [u] JOIN [x]]y] ON 1=1")).toEqual(["user", "x]y"]);
    expect(names(`SELECT * FROM "we""ird"`)).toEqual([`we"ird`]);
    expect(names("select * from Accounts a, ledger as l, public.audit where a.id = l.id")).toEqual([
      "Accounts",
      "ledger",
      "audit",
    ]);
  });

  it("scans subqueries, skips functions, literals, comments and TypeORM's PARAMETERS suffix", () => {
    const sql =
      `SELECT * FROM (SELECT "id" FROM "inner_t" WHERE "name" = 'FROM fake JOIN fake2') "s" ` +
      `CROSS JOIN LATERAL unnest($1) /* FROM commented */ JOIN ONLY "only_t" ON true ` +
      `-- PARAMETERS: ["FROM \\"nope\\""]`;
    expect(names(sql)).toEqual(["inner_t", "only_t"]);
    expect(names(`SELECT * FROM json_each(?) j`)).toEqual([]);
    expect(names(`SELECT 1`)).toEqual([]);
    expect(names(`SELECT * FROM "t" WHERE "a" IN (SELECT "b" FROM "u" WHERE "c" = @0)`)).toEqual(["t", "u"]);
  });

  it("reports each table once, case-insensitively, in order of appearance", () => {
    expect(
      names(`SELECT * FROM "user" a JOIN "USER" b ON 1=1 JOIN "post" ON 1=1 JOIN "user" c ON 1=1`),
    ).toEqual(["user", "post"]);
  });

  it("marks quoted names", () => {
    expect(tablesOfQuery(`SELECT * FROM "Q" JOIN bare ON 1=1`)).toEqual([
      { name: "Q", quoted: true },
      { name: "bare", quoted: false },
    ]);
  });
});

describe("table tags on TypeORM's own SQL (SQLite)", () => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = new DataSource({
      type: "better-sqlite3",
      database: ":memory:",
      entities: ENTITIES,
      synchronize: true,
    });
    await ds.initialize();
  });
  afterAll(async () => {
    await ds.destroy();
  });

  it("tags the main table, joined relations and the many-to-many junction table", () => {
    const tags = new TableTags(ds);
    const sql = ds
      .getRepository(PostEntity)
      .createQueryBuilder("p")
      .leftJoinAndSelect("p.author", "a")
      .leftJoinAndSelect("p.tags", "t")
      .where("a.name = :n", { n: "x" })
      .getQuery();
    expect(tags.forQuery(sql)).toEqual(["table:post", "table:user", "table:post_tags", "table:tag"]);
    expect(tags.forMetadata(ds.getMetadata(UserEntity))).toBe("table:user");
  });

  it("expands a view into the tables its expression reads", () => {
    const tags = new TableTags(ds);
    const sql = ds.getRepository(UserPostCountView).createQueryBuilder("v").getQuery();
    expect(tags.forQuery(sql)).toEqual(["table:user_post_count", "table:user", "table:post"]);
    expect(tags.forTables(["user_post_count"])).toEqual([
      "table:user_post_count",
      "table:user",
      "table:post",
    ]);
  });

  it("spells a tag the same way from a schema-qualified, upper-case or bare name", () => {
    expect(tableTag("public.User")).toBe("table:user");
    expect(tableTag("user")).toBe("table:user");
  });
});
