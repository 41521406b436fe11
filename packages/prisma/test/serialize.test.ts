// The stored value format and the query keys, without servers: every Prisma value type round-trips exactly, user
// data shaped like the format's own tags stays data, and keys ignore object key order but not array order or types.
import { Decimal } from "@prisma/client/runtime/client";
import { describe, expect, it } from "vitest";
import { canonicalize, queryKey } from "../src/cache-key.js";
import { deserializeResult, serializeResult } from "../src/serialize.js";

const roundTrip = (value: unknown) => deserializeResult(serializeResult(value));

describe("serializeResult / deserializeResult", () => {
  it("keeps every Prisma scalar, by class", () => {
    const value = {
      date: new Date("2020-01-02T03:04:05.678Z"),
      big: -(2n ** 70n),
      decimal: new Decimal("-0.000000000000000000000000000001"),
      huge: new Decimal("1e+40"),
      bytes: new Uint8Array([0, 255, 10]),
      buffer: Buffer.from("hi"),
      text: "plain",
      int: 42,
      float: 0.1,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      negzero: -0,
      yes: true,
      nothing: null,
      list: [new Date(0), 1n, null],
    };
    const back = roundTrip(value) as typeof value;
    expect(back.date).toEqual(value.date);
    expect(back.date).toBeInstanceOf(Date);
    expect(back.big).toBe(value.big);
    expect(back.decimal).toBeInstanceOf(Decimal);
    expect(back.decimal.equals(value.decimal)).toBe(true);
    expect(back.huge.toString()).toBe("1e+40");
    expect(back.bytes).toEqual(new Uint8Array([0, 255, 10]));
    expect(Object.getPrototypeOf(back.bytes)).toBe(Uint8Array.prototype);
    expect(Buffer.isBuffer(back.buffer)).toBe(true);
    expect(back.buffer.toString()).toBe("hi");
    expect(back.nan).toBeNaN();
    expect(back.inf).toBe(Number.POSITIVE_INFINITY);
    expect(back.ninf).toBe(Number.NEGATIVE_INFINITY);
    expect(Object.is(back.negzero, -0)).toBe(true);
    expect(back.nothing).toBeNull();
    expect(back.list).toEqual([new Date(0), 1n, null]);
    expect({ ...back, decimal: 0, huge: 0, buffer: 0 }).toStrictEqual({
      ...value,
      decimal: 0,
      huge: 0,
      buffer: 0,
    });
  });

  it("keeps data that looks like a tag as data", () => {
    const json = {
      $: "D",
      v: 1,
      nested: { $: "B", v: "12" },
      list: [{ $: "O", v: [["a", 1]] }, { $: "unknown" }],
      deep: { $: { $: "M", v: "1" } },
      proto: JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    };
    const back = roundTrip(json) as Record<string, unknown>;
    expect(back).toStrictEqual(json);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("keeps missing fields missing and null null", () => {
    expect(roundTrip({ a: null })).toStrictEqual({ a: null });
    expect(roundTrip({ a: undefined, b: 1 })).toStrictEqual({ b: 1 });
    expect(roundTrip(null)).toBeNull();
    expect(roundTrip(0)).toBe(0);
    expect(roundTrip([])).toEqual([]);
  });

  it("fails loudly on a tag it does not know", () => {
    expect(() => deserializeResult('{"$":"Z","v":1}')).toThrow(/unknown tag/);
  });
});

describe("query keys", () => {
  it("ignore object key order, keep array order", () => {
    expect(canonicalize({ a: 1, b: { c: 2, d: 3 } })).toBe(canonicalize({ b: { d: 3, c: 2 }, a: 1 }));
    expect(canonicalize({ orderBy: [{ a: "asc" }, { b: "asc" }] })).not.toBe(
      canonicalize({ orderBy: [{ b: "asc" }, { a: "asc" }] }),
    );
  });

  it("tell types apart that JSON would confuse", () => {
    const d = new Date("2020-01-01T00:00:00.000Z");
    const forms = [
      1,
      "1",
      1n,
      true,
      null,
      d,
      d.toISOString(),
      new Decimal(1),
      new Uint8Array([1]),
      [1],
      { 0: 1 },
    ];
    expect(new Set(forms.map(canonicalize)).size).toBe(forms.length);
    expect(canonicalize({ a: undefined })).toBe(canonicalize({}));
  });

  it("name the model, the operation and the fluent path", () => {
    const k = queryKey("v1", "User", "findMany", { where: { id: 1 } }, undefined);
    expect(k).toMatch(/^q:v1:User:findMany:[\w-]{43}$/);
    expect(queryKey("v1", "User", "findMany", { where: { id: 1 } }, [])).toBe(k);
    expect(queryKey("v1", "User", "findMany", { where: { id: 1 } }, ["select", "posts"])).not.toBe(k);
    expect(queryKey("v1", "User", "findFirst", { where: { id: 1 } }, undefined)).not.toBe(k);
    expect(queryKey("v2", "User", "findMany", { where: { id: 1 } }, undefined)).not.toBe(k);
  });
});
