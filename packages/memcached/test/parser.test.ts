import { ProtocolError } from "@mcpair/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MetaParser,
  type MetaResponse,
  RC_CLIENT_ERROR,
  RC_EN,
  RC_END,
  RC_ERROR,
  RC_EX,
  RC_HD,
  RC_LINE,
  RC_MN,
  RC_NF,
  RC_NS,
  RC_OK,
  RC_SERVER_ERROR,
  RC_STAT,
  RC_STORED,
  RC_VA,
  RC_VERSION,
  type ResponseSink,
} from "../src/meta-parser.js";

interface Event {
  code: number;
  value: string | null;
  clientFlags?: number;
  cas?: string;
  ttl?: number;
  win?: true;
  stale?: true;
  lost?: true;
  text?: string;
}

/** Copies each (reused) response into a plain object. */
class Collector implements ResponseSink {
  readonly events: Event[] = [];
  errors: ProtocolError[] = [];
  onResponse(r: MetaResponse): void {
    const e: Event = { code: r.code, value: r.value === null ? null : r.value.toString("hex") };
    if (r.hasClientFlags) e.clientFlags = r.clientFlags;
    if (r.hasCas) e.cas = r.casValue().toString();
    if (r.hasTtl) e.ttl = r.ttl;
    if (r.win) e.win = true;
    if (r.stale) e.stale = true;
    if (r.lost) e.lost = true;
    if (r.text !== "") e.text = r.text;
    this.events.push(e);
  }
  onProtocolError(error: ProtocolError): void {
    this.errors.push(error);
  }
}

const MAX_VALUE = 1024 * 1024;

function parse(chunks: Buffer[], maxValueSize = MAX_VALUE): Collector {
  const sink = new Collector();
  const parser = new MetaParser(sink, { maxValueSize });
  for (const c of chunks) parser.feed(c);
  return sink;
}

const b = (s: string | Buffer): Buffer => (typeof s === "string" ? Buffer.from(s, "latin1") : s);

/** Splits `buf` at the given (sorted, deduplicated) cut points. */
function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (const c of [...new Set(cuts)].sort((x, y) => x - y)) {
    if (c <= last || c >= buf.length) continue;
    out.push(buf.subarray(last, c));
    last = c;
  }
  out.push(buf.subarray(last));
  return out;
}

describe("MetaParser: response codes", () => {
  it("parses every meta code with the flags the transport uses", () => {
    const s = parse([
      b(
        "HD\r\nHD f5 c12 t-1 W X Z\r\nEN\r\nNS\r\nEX\r\nNF\r\nMN\r\nVA 2 f7 c3 t60 kfoo s2 Oab\r\nhi\r\nVA 0 c3 W\r\n\r\n",
      ),
    ]);
    expect(s.errors).toEqual([]);
    expect(s.events).toEqual([
      { code: RC_HD, value: null },
      { code: RC_HD, value: null, clientFlags: 5, cas: "12", ttl: -1, win: true, stale: true, lost: true },
      { code: RC_EN, value: null },
      { code: RC_NS, value: null },
      { code: RC_EX, value: null },
      { code: RC_NF, value: null },
      { code: RC_MN, value: null },
      { code: RC_VA, value: Buffer.from("hi").toString("hex"), clientFlags: 7, cas: "3", ttl: 60 },
      { code: RC_VA, value: "", cas: "3", win: true },
    ]);
  });

  it("parses text lines: OK, END, STORED, STAT, VERSION, errors, anything else", () => {
    const s = parse([
      b(
        "OK\r\nEND\r\nSTORED\r\nSTAT pid 42\r\nVERSION 1.6.18\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\n" +
          "SERVER_ERROR out of memory\r\nkey=a%20b exp=-1 la=1 cas=2 fetch=no cls=1 size=66\nBUSY currently\r\n",
      ),
    ]);
    expect(s.errors).toEqual([]);
    expect(s.events.map((e) => [e.code, e.text])).toEqual([
      [RC_OK, undefined],
      [RC_END, undefined],
      [RC_STORED, undefined],
      [RC_STAT, "pid 42"],
      [RC_VERSION, "1.6.18"],
      [RC_ERROR, undefined],
      [RC_CLIENT_ERROR, "bad data chunk"],
      [RC_SERVER_ERROR, "out of memory"],
      [RC_LINE, "key=a%20b exp=-1 la=1 cas=2 fetch=no cls=1 size=66"],
      [RC_LINE, "BUSY currently"],
    ]);
  });

  it("keeps binary values intact, including \\r\\n and every byte value", () => {
    const value = Buffer.alloc(512);
    for (let i = 0; i < value.length; i++) value[i] = i & 0xff;
    value.write("\r\nVA 3\r\nEN\r\n", 100, "latin1");
    const stream = Buffer.concat([b(`VA ${value.length} f1\r\n`), value, b("\r\nEN\r\n")]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = parse(splitAt(stream, [cut]));
      expect(s.errors).toEqual([]);
      expect(s.events).toEqual([
        { code: RC_VA, value: value.toString("hex"), clientFlags: 1 },
        { code: RC_EN, value: null },
      ]);
    }
  });

  it("reads a CAS above 2^53 exactly", () => {
    const s = parse([b("HD c18446744073709551615\r\nHD c9007199254740993\r\n")]);
    expect(s.events.map((e) => e.cas)).toEqual(["18446744073709551615", "9007199254740993"]);
  });

  it("returns values as copies, not views of the socket chunk", () => {
    const sink = new Collector();
    let kept: Buffer | null = null;
    const parser = new MetaParser(
      {
        onResponse: (r) => {
          kept = r.value;
          sink.onResponse(r);
        },
        onProtocolError: (e) => sink.onProtocolError(e),
      },
      { maxValueSize: MAX_VALUE },
    );
    const chunk = b("VA 3\r\nabc\r\n");
    parser.feed(chunk);
    chunk.fill(0);
    expect((kept as Buffer | null)?.toString()).toBe("abc");
  });

  it("accepts a value of exactly maxValueSize and rejects a longer one without buffering it", () => {
    const ok = parse([b("VA 10\r\n0123456789\r\n")], 10);
    expect(ok.errors).toEqual([]);
    const tooBig = parse([b("VA 11\r\n0123")], 10);
    expect(tooBig.errors[0]).toBeInstanceOf(ProtocolError);
    const huge = parse([b("VA 1099511627776\r\nxxxxxxxx")], MAX_VALUE);
    expect(huge.errors[0]).toBeInstanceOf(ProtocolError);
    expect(huge.events).toEqual([]);
  });

  it.each([
    ["VA\r\n", "VA without a size"],
    ["VA x\r\n", "non-numeric size"],
    ["VA 2\r\nhiXY", "value not followed by \\r\\n"],
    ["HD fzz\r\n", "non-numeric flags token"],
    ["HD f1x\r\n", "trailing garbage after a numeric token"],
    ["HD c\r\n", "empty CAS"],
    ["HD t\r\n", "empty TTL"],
    ["HD\rX", "CR without LF"],
    ["HD \x01\r\n", "control byte flag"],
    ["HD f99999999999\r\n", "client flags over 32 bits"],
  ])("reports %j as a ProtocolError (%s)", (input) => {
    const s = parse([b(input)]);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toBeInstanceOf(ProtocolError);
  });

  it("bounds an endless line", () => {
    const sink = new Collector();
    const parser = new MetaParser(sink, { maxValueSize: MAX_VALUE, maxLineLength: 1000 });
    for (let i = 0; i < 100 && sink.errors.length === 0; i++) parser.feed(Buffer.alloc(100, 0x61));
    expect(sink.errors).toHaveLength(1);
  });

  it("stops after the first error and after close()", () => {
    const s = new Collector();
    const parser = new MetaParser(s, { maxValueSize: MAX_VALUE });
    parser.feed(b("HD\r\nVA zz\r\nHD\r\n"));
    parser.feed(b("HD\r\n"));
    expect(s.events).toHaveLength(1);
    expect(s.errors).toHaveLength(1);

    const t = new Collector();
    const p2 = new MetaParser(
      {
        onResponse: (r) => {
          t.onResponse(r);
          p2.close();
        },
        onProtocolError: (e) => t.onProtocolError(e),
      },
      { maxValueSize: MAX_VALUE },
    );
    p2.feed(b("HD\r\nHD\r\nHD\r\n"));
    expect(t.events).toHaveLength(1);
  });
});

// ---- property tests -----------------------------------------------------------------------------------------

const digits = (max: number) => fc.integer({ min: 0, max }).map(String);
const casArb = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }).map((v) => v.toString());
const flagTokens = fc.array(
  fc.oneof(
    digits(0xffffffff).map((d) => `f${d}`),
    casArb.map((d) => `c${d}`),
    fc.oneof(fc.constant("-1"), digits(2_592_000)).map((d) => `t${d}`),
    fc.constantFrom("W", "X", "Z", "b", "kfoo", "s12", "O123", "h1", "l9"),
  ),
  { maxLength: 6 },
);
const valueArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const metaLine = fc
  .tuple(fc.constantFrom("HD", "EN", "NS", "EX", "NF", "MN"), flagTokens)
  .map(([code, flags]) => b(`${[code, ...flags].join(" ")}\r\n`));
const vaFrame = fc
  .tuple(valueArb, flagTokens)
  .map(([value, flags]) =>
    Buffer.concat([b(`${["VA", String(value.length), ...flags].join(" ")}\r\n`), value, b("\r\n")]),
  );
const textLine = fc.oneof(
  fc
    .constantFrom(
      "OK\r\n",
      "END\r\n",
      "STORED\r\n",
      "TOUCHED\r\n",
      "NOT_FOUND\r\n",
      "ERROR\r\n",
      "VERSION 1.6.18\r\n",
    )
    .map(b),
  fc.stringMatching(/^[a-z_]{1,12} [0-9a-z.]{0,12}$/).map((s) => b(`STAT ${s}\r\n`)),
  fc.stringMatching(/^[ -~]{0,40}$/).map((s) => b(`SERVER_ERROR ${s}\r\n`)),
  fc.stringMatching(/^[ -~]{0,40}$/).map((s) => b(`CLIENT_ERROR ${s}\r\n`)),
  fc.stringMatching(/^key=[A-Za-z0-9%]{1,20} exp=-?[0-9]{1,10} size=[0-9]{1,6}$/).map((s) => b(`${s}\n`)),
);
const stream = fc
  .array(fc.oneof(metaLine, vaFrame, textLine), { minLength: 1, maxLength: 40 })
  .map((frames) => Buffer.concat(frames));

describe("MetaParser: properties", () => {
  it("parses any split of a valid stream exactly like the unsplit stream", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), (buf, rawCuts) => {
        const whole = parse([buf]);
        expect(whole.errors).toEqual([]);
        const cuts = rawCuts.map((c) => (buf.length === 0 ? 0 : c % buf.length));
        const split = parse(splitAt(buf, cuts));
        expect(split.errors).toEqual([]);
        expect(split.events).toEqual(whole.events);
      }),
      { numRuns: 400 },
    );
  });

  it("parses a valid stream delivered one byte at a time", () => {
    fc.assert(
      fc.property(stream, (buf) => {
        const whole = parse([buf]);
        const bytes: Buffer[] = [];
        for (let i = 0; i < buf.length; i++) bytes.push(buf.subarray(i, i + 1));
        expect(parse(bytes).events).toEqual(whole.events);
      }),
      { numRuns: 60 },
    );
  });

  it("never throws on garbage, reports at most one ProtocolError, and emits nothing after it", () => {
    const garbage = fc.array(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        fc
          .constantFrom("VA ", "VA 99999999999", "\r", "\n", "\r\n", "HD ", " f", " c", "END", "ERROR")
          .map(b),
        stream,
      ),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(garbage, fc.array(fc.nat(), { maxLength: 10 }), (parts, rawCuts) => {
        const buf = Buffer.concat(parts);
        const cuts = rawCuts.map((c) => (buf.length === 0 ? 0 : c % buf.length));
        const sink = new Collector();
        let afterError = 0;
        const parser = new MetaParser(
          {
            onResponse: (r) => {
              if (sink.errors.length > 0) afterError++;
              sink.onResponse(r);
            },
            onProtocolError: (e) => sink.onProtocolError(e),
          },
          { maxValueSize: 4096, maxLineLength: 512 },
        );
        for (const chunk of splitAt(buf, cuts)) parser.feed(chunk);
        expect(sink.errors.length).toBeLessThanOrEqual(1);
        for (const e of sink.errors) expect(e).toBeInstanceOf(ProtocolError);
        expect(afterError).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });
});
