import { deflateRawSync, inflateRawSync } from "node:zlib";
import { CodecError, InvalidArgumentError } from "./errors.js";

/**
 * Turns values into bytes and back. The 32-bit item flags record how a value was encoded, so readers decode it
 * correctly whatever codec version wrote it, and so a value written by one codec is never misread by another.
 *
 * mcpair never writes flags 0: memcached gives lease placeholders flags 0 and an empty value, and the engine relies on
 * that to tell a placeholder from a real item.
 */
export interface Codec {
  encode(value: unknown): EncodedValue;
  /**
   * Optional: `value` as a string to store as its UTF-8 bytes with `flags`, when that is exactly what `encode` would
   * store and the string is short (a transport with `acceptsStringValues` encodes it straight into its write buffer,
   * skipping the `Uint8Array`); otherwise undefined.
   */
  encodeText?(value: unknown): { text: string; flags: number } | undefined;
  decode(bytes: Uint8Array, flags: number): unknown;
}

export interface EncodedValue {
  bytes: Uint8Array;
  /** Must not be 0 (reserved for lease placeholders). */
  flags: number;
}

/** Item flags written by the default codec. The high 16 bits carry the marker 0x4d50 ("MP") so foreign items are recognisable. */
export const FLAGS = {
  string: 0x4d50_0001,
  bytes: 0x4d50_0002,
  json: 0x4d50_0003,
  /**
   * An entry of a namespace or written with tags: the generations it was written under, then the inner value and its
   * flags (see `scope.ts`). The engine checks the generations before the codec ever sees the inner value.
   */
  envelope: 0x4d50_0004,
  /**
   * A delete's tombstone: an empty item that stands for "deleted" on a replica for a few seconds, so that no copy
   * fills the key there meanwhile (see `deletes.ts`). Reserved: a custom codec must not use it (nor 0).
   */
  tombstone: 0x4d50_0005,
  /** OR-ed in when the payload is raw-deflate compressed. */
  compressed: 0x0000_0100,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });
// On Node, Buffer.from allocates small strings from a shared pool: about 4x faster than TextEncoder for 100-byte
// values (measured), which matters on the hot path. Both replace invalid UTF-16 the same way.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
const utf8Encode: (s: string) => Uint8Array = NodeBuffer
  ? (s) => NodeBuffer.from(s, "utf8")
  : (s) => encoder.encode(s);
const utf8Decode = (b: Uint8Array): string =>
  NodeBuffer?.isBuffer(b) ? (b as Buffer).toString("utf8") : decoder.decode(b);

export interface CodecOptions {
  /**
   * Compress encoded values of at least this many bytes with raw deflate. `false` disables compression.
   * @default false
   */
  compressThreshold?: number | false;
  /** zlib level 1 (fast) .. 9 (small). @default 1 */
  compressLevel?: number;
}

/**
 * The default codec: strings as UTF-8, `Uint8Array`/`Buffer` as raw bytes (decoded as `Uint8Array`, a `Buffer` when
 * the transport hands out Buffers), anything else as JSON. Items written by other clients (flags without the "MP"
 * marker) are returned as UTF-8 text, as most clients store strings.
 */
export function createDefaultCodec(options: CodecOptions = {}): Codec {
  const threshold = options.compressThreshold ?? false;
  if (threshold !== false && (!Number.isInteger(threshold) || threshold < 0)) {
    throw new InvalidArgumentError(
      `option "compressThreshold" must be false or a whole number of bytes >= 0, got ${String(threshold)}`,
    );
  }
  const level = options.compressLevel ?? 1;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new InvalidArgumentError(
      `option "compressLevel" must be a whole number from 1 to 9, got ${String(level)}`,
    );
  }

  function maybeCompress(bytes: Uint8Array, flags: number): EncodedValue {
    if (threshold === false || bytes.length < threshold) return { bytes, flags };
    const packed = deflateRawSync(bytes, { level });
    // Only keep the compressed form when it actually saves space (random or already-compressed data grows).
    return packed.length < bytes.length
      ? { bytes: packed, flags: flags | FLAGS.compressed }
      : { bytes, flags };
  }

  return {
    encodeText(value) {
      // Short strings only: a long one is better encoded once and written by reference to every replica.
      if (typeof value !== "string" || value.length > 4096) return undefined;
      // Possibly compressed: `encode` decides (UTF-8 takes at most 3 bytes per UTF-16 unit).
      if (threshold !== false && value.length * 3 >= threshold) return undefined;
      return { text: value, flags: FLAGS.string };
    },
    encode(value) {
      if (typeof value === "string") return maybeCompress(utf8Encode(value), FLAGS.string);
      if (value instanceof Uint8Array) return maybeCompress(value, FLAGS.bytes);
      if (value === undefined || typeof value === "function" || typeof value === "symbol") {
        throw new CodecError(
          `cannot store a value of type ${typeof value}: use a string, bytes or a JSON-serialisable value`,
        );
      }
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (cause) {
        throw new CodecError(`value is not JSON-serialisable: ${(cause as Error).message}`, { cause });
      }
      if (json === undefined) throw new CodecError("value is not JSON-serialisable");
      return maybeCompress(utf8Encode(json), FLAGS.json);
    },
    decode(raw, flags) {
      let bytes = raw;
      if ((flags & 0xffff_0000) >>> 0 === 0x4d50_0000 && flags & FLAGS.compressed) {
        try {
          bytes = inflateRawSync(raw);
        } catch (cause) {
          throw new CodecError("stored value could not be decompressed", { cause });
        }
      }
      switch ((flags & ~FLAGS.compressed) >>> 0) {
        case FLAGS.string:
          return utf8Decode(bytes);
        case FLAGS.bytes:
          return bytes;
        case FLAGS.json:
          try {
            return JSON.parse(utf8Decode(bytes));
          } catch (cause) {
            throw new CodecError("stored JSON value could not be parsed", { cause });
          }
        default:
          // Written by another client: hand out text, as most clients store strings.
          return utf8Decode(bytes);
      }
    },
  };
}
