import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createDefaultCodec, FLAGS } from "../src/codec.js";
import { CodecError, InvalidArgumentError } from "../src/errors.js";

describe("default codec", () => {
  const codec = createDefaultCodec();

  it("round-trips strings, bytes and JSON, recording the kind in the flags", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const e = codec.encode(s);
        expect(e.flags).toBe(FLAGS.string);
        expect(codec.decode(e.bytes, e.flags)).toBe(s);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array(), (b) => {
        const e = codec.encode(b);
        expect(e.flags).toBe(FLAGS.bytes);
        expect([...(codec.decode(e.bytes, e.flags) as Uint8Array)]).toEqual([...b]);
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        if (typeof v === "string") return;
        const e = codec.encode(v);
        expect(e.flags).toBe(FLAGS.json);
        expect(codec.decode(e.bytes, e.flags)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it("never writes flags 0 (reserved for lease placeholders)", () => {
    for (const v of ["", new Uint8Array(0), 0, null, false, [], {}])
      expect(codec.encode(v).flags).not.toBe(0);
  });

  it("refuses values it cannot represent with a CodecError", () => {
    expect(() => codec.encode(undefined)).toThrow(CodecError);
    expect(() => codec.encode(() => 1)).toThrow(CodecError);
    expect(() => codec.encode({ n: 1n })).toThrow(CodecError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => codec.encode(cyclic)).toThrow(CodecError);
  });

  it("reports corrupt stored JSON as a CodecError", () => {
    expect(() => codec.decode(new TextEncoder().encode("{oops"), FLAGS.json)).toThrow(CodecError);
  });

  it("decodes foreign items (other clients' flags) as text", () => {
    expect(codec.decode(new TextEncoder().encode("42"), 0)).toBe("42");
  });

  it("compresses above the threshold only when it saves space", () => {
    const z = createDefaultCodec({ compressThreshold: 100 });
    const big = "x".repeat(10_000);
    const e = z.encode(big);
    expect(e.flags & FLAGS.compressed).toBeTruthy();
    expect(e.bytes.length).toBeLessThan(200);
    expect(z.decode(e.bytes, e.flags)).toBe(big);
    const small = z.encode("x".repeat(50));
    expect(small.flags & FLAGS.compressed).toBe(0);
    const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    const r = z.encode(random);
    expect([...(z.decode(r.bytes, r.flags) as Uint8Array)]).toEqual([...random]);
    expect(() => z.decode(new Uint8Array([1, 2, 3]), FLAGS.string | FLAGS.compressed)).toThrow(CodecError);
  });

  it("validates its options", () => {
    expect(() => createDefaultCodec({ compressThreshold: -1 })).toThrow(InvalidArgumentError);
    expect(() => createDefaultCodec({ compressLevel: 12 })).toThrow(/compressLevel/);
  });
});
