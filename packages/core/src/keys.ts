import { createHash } from "node:crypto";
import { InvalidArgumentError, InvalidKeyError } from "./errors.js";

/** memcached's limit on key length, in bytes. */
export const MAX_KEY_BYTES = 250;

/**
 * Returns the reason `key` cannot be sent to memcached as is, or `undefined` when it can.
 * memcached's text/meta protocol separates tokens by spaces and ends commands with `\r\n`, so any whitespace or
 * control character in a key could end the command early or inject a second one: those keys are refused.
 */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== "string") return `keys must be strings, got ${typeof key}`;
  const n = key.length;
  if (n === 0) return "keys must not be empty";
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    // 0x00-0x20: control characters and space; 0x7f: DEL. Non-ASCII whitespace is refused too (below).
    if (c <= 0x20 || c === 0x7f)
      return `keys must not contain whitespace or control characters (found 0x${c.toString(16).padStart(2, "0")} at index ${i})`;
    if (c > 0x7f) ascii = false;
  }
  if (ascii) return n > MAX_KEY_BYTES ? `keys must be at most ${MAX_KEY_BYTES} bytes (got ${n})` : undefined;
  if (/[\s\u0080-\u009f]/u.test(key)) return "keys must not contain whitespace or control characters";
  const bytes = utf8Length(key);
  return bytes > MAX_KEY_BYTES
    ? `keys must be at most ${MAX_KEY_BYTES} bytes of UTF-8 (got ${bytes})`
    : undefined;
}

/** Byte length of `s` in UTF-8 without allocating (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder does). */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Throws `InvalidKeyError` unless `key` can be sent to memcached as is. */
export function assertValidKey(key: unknown): asserts key is string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(String(key), problem);
}

/**
 * How user keys become memcached keys.
 * - `false`: keys are sent as given (after the prefix) and must be valid memcached keys.
 * - `"long"`: keys that are too long or contain whitespace/control characters are replaced by
 *   `prefix + "#" + base64url(sha256(key))` (47 bytes + prefix); valid keys are sent as given. Two different user
 *   keys can only collide if SHA-256 collides.
 * - `"always"`: every key is hashed that way (uniform length, hides key contents from `metadump`).
 */
export type KeyHashing = false | "long" | "always";

export type KeyMapper = (key: string) => string;

export function createKeyMapper(prefix: string, hashing: KeyHashing): KeyMapper {
  if (prefix !== "") {
    const problem = keyProblem(prefix);
    if (problem !== undefined)
      throw new InvalidArgumentError(`option "keyPrefix" is not usable in a key: ${problem}`);
    if (utf8Length(prefix) > 200)
      throw new InvalidArgumentError(`option "keyPrefix" must be at most 200 bytes`);
  }
  const hashed = (key: string) => `${prefix}#${createHash("sha256").update(key).digest("base64url")}`;
  if (hashing === "always") {
    return (key) => {
      if (typeof key !== "string" || key.length === 0)
        throw new InvalidKeyError(String(key), "keys must be non-empty strings");
      return hashed(key);
    };
  }
  if (hashing === "long") {
    return (key) => {
      if (typeof key !== "string" || key.length === 0)
        throw new InvalidKeyError(String(key), "keys must be non-empty strings");
      const full = prefix + key;
      return keyProblem(full) === undefined ? full : hashed(key);
    };
  }
  if (prefix === "") {
    return (key) => {
      assertValidKey(key);
      return key;
    };
  }
  return (key) => {
    if (typeof key !== "string")
      throw new InvalidKeyError(String(key), `keys must be strings, got ${typeof key}`);
    const full = prefix + key;
    const problem = keyProblem(full);
    if (problem !== undefined) throw new InvalidKeyError(full, problem);
    return full;
  };
}
