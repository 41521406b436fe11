import { createHash } from "node:crypto";
import { Decimal } from "@prisma/client/runtime/client";

/**
 * Query keys: the model, the operation and a hash of the arguments, so that two calls that ask the database the same
 * question share an entry whatever order their arguments were written in.
 *
 *   q:<version>:<model>:<operation>:<sha256 of the canonical arguments, base64url>
 *   k:<version>:<custom key>
 *
 * `version` fingerprints the data model and this package's value format: after a deployment that adds a column, or
 * a release that changes the format, keys change and entries written by the old code are never read as the new
 * shape (they expire by their TTL).
 *
 * The canonical form sorts object keys (Prisma gives key order no meaning) but keeps array order (`orderBy: [...]`
 * and `AND: [...]` lists are ordered). Values that JSON would lose or confuse are tagged: a `Date` and its ISO string
 * are different arguments to Prisma, and so are `1n` and `1`.
 */

/** Bumped whenever the stored value format (serialize.ts, the stored envelope) changes. */
export const FORMAT_VERSION = 2;

export function canonicalize(value: unknown): string {
  switch (typeof value) {
    case "undefined":
      return "u";
    case "string":
      return JSON.stringify(value);
    case "number":
      return Object.is(value, -0) ? "n-0" : `n${String(value)}`;
    case "boolean":
      return value ? "t" : "f";
    case "bigint":
      return `b${value.toString()}`;
    case "object":
      return canonicalObject(value);
    default:
      // Functions and symbols are not Prisma arguments; a stable spelling keeps the hash deterministic anyway.
      return `?${typeof value}`;
  }
}

function canonicalObject(value: object | null): string {
  if (value === null) return "null";
  if (value instanceof Date) return `D${value.getTime()}`;
  if (value instanceof Uint8Array)
    return `U${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}`;
  if (Decimal.isDecimal(value)) return `M${(value as Decimal).toString()}`;
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(",")}]`;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== Object.prototype && proto !== null) {
    // Prisma's own argument objects: Prisma.skip, Prisma.DbNull / JsonNull / AnyNull (distinct classes with no
    // own fields), field references (`prisma.user.fields.x`, with modelName and name). The class name tells the
    // null kinds apart; own enumerable fields cover the rest.
    const name = (proto.constructor as { name?: unknown } | undefined)?.name;
    return `<${typeof name === "string" ? name : "?"}>${canonicalPlain(value)}`;
  }
  return canonicalPlain(value);
}

function canonicalPlain(value: object): string {
  const keys = Object.keys(value).sort();
  let out = "{";
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    // `{ a: undefined }` means the same to Prisma as `{}`.
    if (v === undefined) continue;
    out += `${JSON.stringify(k)}:${canonicalize(v)},`;
  }
  return `${out}}`;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}

/** The key of a query's entry. `dataPath` is set for fluent calls (`findUnique(...).posts()`), which return a part. */
export function queryKey(
  version: string,
  model: string,
  operation: string,
  args: unknown,
  dataPath: readonly string[] | undefined,
): string {
  const canonical =
    dataPath !== undefined && dataPath.length > 0
      ? `${canonicalize(args)}|${canonicalize(dataPath)}`
      : canonicalize(args);
  return `q:${version}:${model}:${operation}:${sha256(canonical)}`;
}

/** The key of an entry stored under the user's own key. */
export function customKey(version: string, key: string): string {
  return `k:${version}:${key}`;
}
