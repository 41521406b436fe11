import { Decimal } from "@prisma/client/runtime/client";

/**
 * Prisma results as JSON text and back, exactly: a `Date` comes back a `Date`, a `BigInt` a `bigint`, a `Decimal` a
 * Prisma `Decimal` with every digit, `Bytes` a `Uint8Array`, `null` stays `null` and an unselected field stays missing.
 * (Plain JSON turns Dates into strings, throws on BigInt and writes Uint8Array as an object of indices: the bugs the
 * community extensions are known for.)
 *
 * Values JSON cannot hold become tagged objects `{"$": <tag>, "v": <text>}`:
 *
 *   D Date (epoch ms)   B BigInt   M Decimal   U Uint8Array (base64)   F Buffer (base64)   N NaN / ±Infinity / -0
 *   O escaped object
 *
 * (Prisma 7 returns `Uint8Array`s; raw driver rows, as Prisma Next caches them, may hold `Buffer`s: each comes back
 * as what it was.)
 *
 * A `Json` column may hold any object, including one that looks like a tag. So every *plain* object that has a `$`
 * key is written escaped, as `{"$": "O", "v": [[key, value], ...]}`: after that, an object with a `$` key in the text
 * is always one of ours. The escape is a list of entries rather than an object so that the reviver, which works
 * bottom-up, never sees the user's `{"$": ...}` as an object.
 */

/** `JSON.stringify` replacer: `this[key]` is the value before `toJSON` (Date and Decimal define one). */
function replacer(this: Record<string, unknown>, key: string, jsonValue: unknown): unknown {
  const value = this[key];
  switch (typeof value) {
    case "bigint":
      return { $: "B", v: value.toString() };
    case "number":
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { $: "N", v: Object.is(value, -0) ? "-0" : String(value) };
    case "object": {
      if (value === null) return null;
      if (value instanceof Date) return { $: "D", v: value.getTime() };
      if (value instanceof Uint8Array) {
        const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
        return { $: Buffer.isBuffer(value) ? "F" : "U", v: base64 };
      }
      if (Decimal.isDecimal(value)) return { $: "M", v: (value as Decimal).toString() };
      if (!Array.isArray(value) && Object.hasOwn(value, "$")) return { $: "O", v: Object.entries(value) };
      return jsonValue;
    }
    default:
      return jsonValue;
  }
}

function reviver(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const tagged = value as { $?: unknown; v?: unknown };
  if (typeof tagged.$ !== "string") return value;
  const v = tagged.v;
  switch (tagged.$) {
    case "D":
      return new Date(v as number);
    case "B":
      return BigInt(v as string);
    case "M":
      return new Decimal(v as string);
    case "U": {
      const b = Buffer.from(v as string, "base64");
      // A copy in a Uint8Array of its own: Prisma returns plain Uint8Arrays, not Buffers from a shared pool.
      return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    }
    case "F":
      return Buffer.from(v as string, "base64");
    case "N":
      return v === "-0" ? -0 : Number(v);
    case "O":
      return Object.fromEntries(v as Array<[string, unknown]>);
    default:
      throw new TypeError(`unknown tag ${JSON.stringify(tagged.$)} in a cached Prisma result`);
  }
}

/** A Prisma result as JSON text (see the module comment for the format). */
export function serializeResult(value: unknown): string {
  // `undefined` (never a Prisma result) would make JSON.stringify return undefined: store it as null.
  return JSON.stringify(value === undefined ? null : value, replacer);
}

/** The Prisma result `text` was made from. */
export function deserializeResult(text: string): unknown {
  return JSON.parse(text, reviver);
}
