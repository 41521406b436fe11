import { describe, expect, it } from "vitest";
import { checkHistory, excerpt, type HistoryOp } from "./chaos/checker.js";

// Hand-made histories. Helpers take [start, end] in ms; values are unique strings.
const set = (key: string, value: string, start: number, end: number, ok = true, proc = "p0"): HistoryOp => ({
  proc,
  kind: "set",
  key,
  value,
  start,
  end,
  outcome: ok ? "ok" : "error",
});
const del = (key: string, start: number, end: number, ok = true, proc = "p0"): HistoryOp => ({
  proc,
  kind: "delete",
  key,
  start,
  end,
  outcome: ok ? "ok" : "error",
});
const hit = (key: string, value: string, start: number, end: number, proc = "p1"): HistoryOp => ({
  proc,
  kind: "get",
  key,
  value,
  start,
  end,
  outcome: "hit",
});
const miss = (key: string, start: number, end: number, proc = "p1"): HistoryOp => ({
  proc,
  kind: "get",
  key,
  start,
  end,
  outcome: "miss",
});
const readError = (key: string, start: number, end: number): HistoryOp => ({
  proc: "p1",
  kind: "get",
  key,
  start,
  end,
  outcome: "error",
});

const kinds = (h: HistoryOp[]) => checkHistory(h).violations.map((v) => v.kind);

describe("checkHistory: histories it must accept", () => {
  it("a sequential history of sets, deletes, hits and misses", () => {
    const h = [
      set("k", "a", 0, 1),
      hit("k", "a", 2, 3),
      del("k", 4, 5),
      miss("k", 6, 7),
      set("k", "b", 8, 9),
      hit("k", "b", 10, 11),
      set("k", "c", 12, 13),
      hit("k", "c", 14, 15),
    ];
    const r = checkHistory(h);
    expect(r.violations).toEqual([]);
    expect(r).toMatchObject({ ops: 8, reads: 4, hits: 3, misses: 1, sets: 3, deletes: 1, keys: 1 });
  });

  it("misses and failed reads are always allowed, even right after a write", () => {
    expect(kinds([set("k", "a", 0, 1), miss("k", 2, 3), readError("k", 4, 5), miss("k", 0, 9)])).toEqual([]);
  });

  it("overlapping writes may be seen in either order", () => {
    // b started before a ended: no order between them, so a later read may return either.
    expect(
      kinds([set("k", "a", 0, 10), set("k", "b", 5, 15), hit("k", "a", 20, 21), hit("k", "b", 22, 23)]),
    ).toEqual([]);
  });

  it("a read concurrent with a delete may return the old value", () => {
    expect(kinds([set("k", "a", 0, 1), del("k", 2, 10), hit("k", "a", 5, 8), hit("k", "a", 9, 12)])).toEqual(
      [],
    );
  });

  it("a delete that started before the write ended does not forbid the value", () => {
    expect(kinds([set("k", "a", 0, 10), del("k", 5, 12), hit("k", "a", 20, 21)])).toEqual([]);
  });

  it("a read concurrent with the write may return the new value before the write is acknowledged", () => {
    expect(
      kinds([set("k", "a", 0, 1), set("k", "b", 5, 20), hit("k", "b", 6, 7), hit("k", "a", 8, 9)]),
    ).toEqual([]);
  });

  it("a failed write is a maybe-write: it may appear at any time after it started", () => {
    const h = [
      set("k", "a", 0, 5, false),
      del("k", 10, 12),
      set("k", "b", 20, 21),
      hit("k", "a", 30, 31),
      miss("k", 32, 33),
    ];
    expect(kinds(h)).toEqual([]);
  });

  it("failed deletes and failed writes never count as witnesses", () => {
    const h = [set("k", "a", 0, 1), del("k", 2, 3, false), set("k", "b", 4, 5, false), hit("k", "a", 10, 11)];
    expect(kinds(h)).toEqual([]);
  });

  it("operations in the same millisecond count as concurrent", () => {
    // The delete ends in the ms the read starts, and starts in the ms the write ends.
    expect(kinds([set("k", "a", 0, 5), del("k", 5, 9), hit("k", "a", 9, 10)])).toEqual([]);
  });

  it("keys are independent", () => {
    expect(kinds([set("a", "1", 0, 1), set("b", "2", 0, 1), del("b", 2, 3), hit("a", "1", 5, 6)])).toEqual(
      [],
    );
  });
});

describe("checkHistory: histories it must flag", () => {
  it("promise 1: a value read after its deletion was acknowledged (resurrection)", () => {
    const r = checkHistory([set("k", "a", 0, 1), del("k", 2, 3), hit("k", "a", 4, 5)]);
    expect(r.violations.map((v) => v.kind)).toEqual(["resurrection"]);
    expect(r.violations[0]!.witness?.kind).toBe("delete");
    expect(r.violations[0]!.write?.value).toBe("a");
    expect(r.byKind.resurrection).toBe(1);
  });

  it("promise 1 across processes, long after the delete", () => {
    const h = [
      set("k", "a", 0, 1, true, "p0"),
      del("k", 10, 11, true, "p0"),
      hit("k", "a", 5000, 5001, "p2"),
    ];
    expect(kinds(h)).toEqual(["resurrection"]);
  });

  it("promise 2: an older value read after a newer write was acknowledged (going back)", () => {
    const r = checkHistory([
      set("k", "a", 0, 1),
      set("k", "b", 2, 3),
      hit("k", "b", 4, 5),
      hit("k", "a", 6, 7),
    ]);
    expect(r.violations.map((v) => v.kind)).toEqual(["stale"]);
    expect(r.violations[0]!.witness?.value).toBe("b");
  });

  it("promise 2 when the newer value was itself deleted afterwards (the old value resurfaces)", () => {
    // a < b < delete: reading a is both going back and a resurrection; it is reported once.
    expect(kinds([set("k", "a", 0, 1), set("k", "b", 2, 3), del("k", 4, 5), hit("k", "a", 6, 7)])).toEqual([
      "resurrection",
    ]);
  });

  it("finds the witness even when a later-ending mutation overlaps the read", () => {
    // c is still running when the read starts, but b finished before: a is stale.
    const h = [set("k", "a", 0, 1), set("k", "b", 2, 3), set("k", "c", 40, 200), hit("k", "a", 50, 60)];
    expect(kinds(h)).toEqual(["stale"]);
  });

  it("a value nobody wrote", () => {
    expect(kinds([set("k", "a", 0, 1), hit("k", "zzz", 2, 3)])).toEqual(["phantom"]);
  });

  it("a value written to another key", () => {
    expect(kinds([set("k1", "a", 0, 1), hit("k2", "a", 2, 3)])).toEqual(["wrong-key"]);
  });

  it("a value read before its write started", () => {
    expect(kinds([hit("k", "a", 0, 1), set("k", "a", 5, 6, false)])).toEqual(["future"]);
  });

  it("every violating read is reported, each with its history excerpt", () => {
    const h = [
      set("k", "a", 0, 1),
      del("k", 2, 3),
      hit("k", "a", 4, 5),
      hit("k", "a", 6, 7),
      set("x", "other", 0, 100),
      set("k", "b", 100, 101),
    ];
    const r = checkHistory(h);
    expect(r.violations).toHaveLength(2);
    const ex = excerpt(h, r.violations[0]!, 0);
    expect(ex.map((op) => `${op.kind}:${op.start}`)).toEqual(["set:0", "delete:2", "get:4"]);
  });

  it("rejects malformed histories instead of checking them", () => {
    expect(() => checkHistory([set("k", "a", 0, 1), set("k", "a", 2, 3)])).toThrow(/written twice/);
  });
});
