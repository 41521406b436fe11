// The subscriber's bookkeeping of savepoint levels, driven event by event the way TypeORM's query runners broadcast
// them (isTransactionActive and the depth are updated before the after-* events). The real-database proofs of the
// same rules are in support/proof-suite.ts; these cover the orderings those tests do not reach.
import type { DataSource, QueryRunner } from "typeorm";
import { describe, expect, it } from "vitest";
import { TableTags } from "../src/table-tags.js";
import { WriteInvalidation } from "../src/write-invalidation.js";

function setup() {
  const invalidated: string[][] = [];
  const tags = new TableTags({ entityMetadatas: [] } as unknown as DataSource);
  const writes = new WriteInvalidation(tags, async (t) => {
    invalidated.push([...t].sort());
  });
  const qr = { isTransactionActive: false } as { isTransactionActive: boolean };
  const runner = qr as unknown as QueryRunner;
  let depth = 0;
  const ev = { queryRunner: runner } as never;
  return {
    invalidated,
    writes,
    runner,
    start() {
      depth++;
      qr.isTransactionActive = true;
      writes.afterTransactionStart(ev);
    },
    async commit() {
      depth--;
      qr.isTransactionActive = depth > 0;
      await writes.afterTransactionCommit(ev);
    },
    rollback() {
      depth--;
      qr.isTransactionActive = depth > 0;
      writes.afterTransactionRollback(ev);
    },
    async write(table: string) {
      await writes.afterInsert({ queryRunner: runner, metadata: { tableName: table } } as never);
    },
  };
}

describe("WriteInvalidation", () => {
  it("invalidates at once outside a transaction", async () => {
    const t = setup();
    await t.write("User");
    expect(t.invalidated).toEqual([["table:user"]]);
  });

  it("invalidates every level's writes on the outer commit, once", async () => {
    const t = setup();
    t.start();
    await t.write("user");
    t.start();
    await t.write("post");
    expect(t.writes.pendingTags(t.runner)).toEqual(new Set(["table:user", "table:post"]));
    await t.commit(); // RELEASE SAVEPOINT: nothing yet
    expect(t.invalidated).toEqual([]);
    await t.commit();
    expect(t.invalidated).toEqual([["table:post", "table:user"]]);
    expect(t.writes.pendingTags(t.runner)).toBeUndefined();
  });

  it("forgets a savepoint's writes when it rolls back, and everything when the transaction does", async () => {
    const t = setup();
    t.start();
    await t.write("user");
    t.start();
    await t.write("post");
    t.rollback(); // ROLLBACK TO SAVEPOINT
    expect(t.writes.pendingTags(t.runner)).toEqual(new Set(["table:user"]));
    await t.commit();
    expect(t.invalidated).toEqual([["table:user"]]);

    t.start();
    await t.write("tag");
    t.start();
    await t.write("post");
    await t.commit(); // released into the outer level
    t.rollback();
    expect(t.invalidated).toEqual([["table:user"]]);
    expect(t.writes.pendingTags(t.runner)).toBeUndefined();
  });

  it("treats a transaction that began before registration as one level, and never under-invalidates it", async () => {
    const t = setup();
    t.start();
    t.start();
    // Registered now: a fresh subscriber has seen neither start.
    const late = new WriteInvalidation(
      new TableTags({ entityMetadatas: [] } as unknown as DataSource),
      async (x) => {
        t.invalidated.push([...x].sort());
      },
    );
    const ev = { queryRunner: t.runner, metadata: { tableName: "user" } } as never;
    await late.afterInsert(ev);
    late.afterTransactionRollback({ queryRunner: t.runner } as never); // inner level rolled back: kept (merged)
    (t.runner as unknown as { isTransactionActive: boolean }).isTransactionActive = false;
    await late.afterTransactionCommit({ queryRunner: t.runner } as never);
    expect(t.invalidated).toEqual([["table:user"]]);
  });
});
