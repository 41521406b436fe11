import { ProtocolError } from "@mcpair/core";

/**
 * Streaming parser for memcached responses: meta responses (`HD`, `VA <size> <flags>*` + data block, `EN`, `NS`,
 * `EX`, `NF`, `MN`) and the few text-protocol lines the transport needs (`OK`, `END`, `STORED`, `TOUCHED`, `NOT_FOUND`,
 * `STAT`, `VERSION`,
 * `ERROR`, `CLIENT_ERROR`, `SERVER_ERROR`, and any other line, e.g. metadump's `key=...`).
 *
 * Hot-path rules: meta lines are parsed in one pass over the bytes (no `indexOf`, no string split); only the flags
 * the transport uses (`f`, `c`, `t`, `W`, `X`, `Z`) are decoded, and no string is allocated for them. One
 * `MetaResponse` object is reused for every response: a sink must copy what it keeps before returning.
 *
 * Framing: a response may be split anywhere across chunks (inside a line, inside `\r\n`, inside a value). An
 * incomplete line is kept (bounded by `maxLineLength`); a value that does not fit the current chunk is copied into
 * a buffer of exactly its size, so large values cost one copy and no quadratic concatenation.
 *
 * The parser never throws: malformed input is reported once through `onProtocolError`, after which the parser is
 * closed (the connection is torn down; resynchronising a byte stream after garbage is guesswork).
 */

/** Meta return codes. */
export const RC_HD = 1;
export const RC_VA = 2;
export const RC_EN = 3;
export const RC_NS = 4;
export const RC_EX = 5;
export const RC_NF = 6;
export const RC_MN = 7;
/** Text-protocol lines. `text` holds what follows the code (or the whole line for `RC_LINE`). */
export const RC_OK = 10;
export const RC_END = 11;
export const RC_STORED = 12;
export const RC_STAT = 13;
export const RC_VERSION = 14;
export const RC_TOUCHED = 15;
export const RC_NOT_FOUND = 16;
export const RC_ERROR = 20;
export const RC_CLIENT_ERROR = 21;
export const RC_SERVER_ERROR = 22;
/** Any other line (metadump entries, `BUSY ...`, garbage that a sink may reject). */
export const RC_LINE = 30;

const CR = 13;
const LF = 10;
const SP = 32;

/** Digits beyond which a CAS no longer fits a double exactly (2^53 has 16 digits). */
const MAX_SAFE_DIGITS = 15;

const EMPTY = Buffer.alloc(0);

/** One parsed response. Reused: valid only during the `onResponse` call. */
export class MetaResponse {
  code = 0;
  /** `VA` data block (a fresh buffer the sink may keep), else `null`. */
  value: Buffer | null = null;
  /** `f` token (client flags). */
  clientFlags = 0;
  hasClientFlags = false;
  /** `c` token when it fits a double exactly; see `casBig`. */
  cas = 0;
  /** `c` token when longer than 15 digits. */
  casBig: bigint | null = null;
  hasCas = false;
  /** `t` token: remaining TTL, -1 for none. */
  ttl = 0;
  hasTtl = false;
  /** `W`: this client won the right to recache. */
  win = false;
  /** `X`: the item is stale. */
  stale = false;
  /** `Z`: another client already holds the win token. */
  lost = false;
  /** Text lines only: what follows the code (`STAT`, `VERSION`, errors) or the whole line (`RC_LINE`). */
  text = "";

  /** The CAS as the contract wants it. */
  casValue(): bigint {
    return this.casBig ?? BigInt(this.cas);
  }

  reset(): void {
    this.code = 0;
    this.value = null;
    this.clientFlags = 0;
    this.hasClientFlags = false;
    this.cas = 0;
    this.casBig = null;
    this.hasCas = false;
    this.ttl = 0;
    this.hasTtl = false;
    this.win = false;
    this.stale = false;
    this.lost = false;
    this.text = "";
  }
}

export interface ResponseSink {
  /** One complete response. `response` is reused after this returns. */
  onResponse(response: MetaResponse): void;
  /** Malformed input. Called at most once; the parser is closed afterwards. */
  onProtocolError(error: ProtocolError): void;
}

export interface MetaParserOptions {
  /** Largest `VA` size accepted; anything larger is a protocol error (a corrupt length must not allocate GBs). */
  maxValueSize: number;
  /** Longest line kept while waiting for its end. @default 16384 */
  maxLineLength?: number | undefined;
}

/** Returned by the line parsers. */
const INCOMPLETE = -1;
const FAILED = -2;

export class MetaParser {
  readonly #sink: ResponseSink;
  readonly #maxValueSize: number;
  readonly #maxLine: number;
  readonly #r = new MetaResponse();
  /** Unparsed tail of the previous chunk (an incomplete line). */
  #rest: Buffer | null = null;
  /** A value block (plus its `\r\n`) being filled across chunks. */
  #valueBuf: Buffer | null = null;
  #valueFill = 0;
  #closed = false;

  constructor(sink: ResponseSink, options: MetaParserOptions) {
    this.#sink = sink;
    this.#maxValueSize = options.maxValueSize;
    this.#maxLine = options.maxLineLength ?? 16_384;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops parsing: later input and the rest of the current chunk are ignored. */
  close(): void {
    this.#closed = true;
    this.#rest = null;
    this.#valueBuf = null;
  }

  feed(chunk: Buffer): void {
    if (this.#closed || chunk.length === 0) return;
    let buf = chunk;
    let pos = 0;
    const vb = this.#valueBuf;
    if (vb !== null) {
      const n = Math.min(vb.length - this.#valueFill, chunk.length);
      chunk.copy(vb, this.#valueFill, 0, n);
      this.#valueFill += n;
      if (this.#valueFill < vb.length) return;
      this.#valueBuf = null;
      const size = vb.length - 2;
      if (vb[size] !== CR || vb[size + 1] !== LF) {
        this.#fail("value block is not terminated by \\r\\n");
        return;
      }
      this.#r.value = vb.subarray(0, size);
      this.#sink.onResponse(this.#r);
      if (this.#closed) return;
      pos = n;
    } else if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    const len = buf.length;
    while (pos < len) {
      const next = this.#parseOne(buf, pos, len);
      if (next < 0) {
        if (next === INCOMPLETE) {
          if (len - pos > this.#maxLine) this.#fail(`response line longer than ${this.#maxLine} bytes`);
          else this.#rest = buf.subarray(pos);
        }
        return;
      }
      pos = next;
      if (this.#closed) return;
    }
  }

  #fail(message: string): void {
    if (this.#closed) return;
    this.close();
    this.#sink.onProtocolError(new ProtocolError(message));
  }

  /** Parses one response at `pos`; returns the position after it, `INCOMPLETE` or `FAILED`. */
  #parseOne(buf: Buffer, pos: number, len: number): number {
    if (pos + 2 >= len) {
      // Too short to classify; a complete short line ("OK\r\n") still has 3+ bytes after pos... unless it is
      // garbage like "\n": let the text path judge anything that already holds a newline.
      if (buf.indexOf(LF, pos) < 0) return INCOMPLETE;
      return this.#parseText(buf, pos, len);
    }
    let code = 0;
    switch ((buf[pos]! << 8) | buf[pos + 1]!) {
      case 0x4844: // HD
        code = RC_HD;
        break;
      case 0x5641: // VA
        code = RC_VA;
        break;
      case 0x454e: // EN
        code = RC_EN;
        break;
      case 0x4e53: // NS
        code = RC_NS;
        break;
      case 0x4558: // EX
        code = RC_EX;
        break;
      case 0x4e46: // NF
        code = RC_NF;
        break;
      case 0x4d4e: // MN
        code = RC_MN;
        break;
    }
    if (code !== 0) {
      const c2 = buf[pos + 2];
      if (c2 === SP || c2 === CR || c2 === LF) return this.#parseMeta(buf, pos + 2, len, code);
    }
    return this.#parseText(buf, pos, len);
  }

  /** A meta line from just after its 2-byte code. */
  #parseMeta(buf: Buffer, start: number, len: number, code: number): number {
    const r = this.#r;
    r.reset();
    r.code = code;
    let i = start;
    let size = 0;
    if (code === RC_VA) {
      if (buf[i] !== SP) return this.#failAt("VA without a size");
      i++;
      const sizeStart = i;
      for (; i < len; i++) {
        const d = buf[i]! - 48;
        if (d < 0 || d > 9) break;
        size = size * 10 + d;
        if (size > this.#maxValueSize) {
          return this.#failAt(`VA size exceeds the ${this.#maxValueSize}-byte limit`);
        }
      }
      if (i >= len) return INCOMPLETE;
      if (i === sizeStart) return this.#failAt("VA size is not a number");
    }
    // Flags: " <letter><token>" repeated, then "\r\n" (a bare "\n" is tolerated).
    for (;;) {
      if (i >= len) return INCOMPLETE;
      const b = buf[i]!;
      if (b === CR) {
        if (i + 1 >= len) return INCOMPLETE;
        if (buf[i + 1] !== LF) return this.#failAt("CR not followed by LF");
        i += 2;
        break;
      }
      if (b === LF) {
        i += 1;
        break;
      }
      if (b !== SP) return this.#failAt(`unexpected byte 0x${b.toString(16)} in a ${codeName(code)} line`);
      i++;
      if (i >= len) return INCOMPLETE;
      const flag = buf[i]!;
      i++;
      switch (flag) {
        case 0x66: {
          // f<uint32>
          let v = 0;
          const s = i;
          for (; i < len; i++) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) break;
            v = v * 10 + d;
          }
          if (i >= len) return INCOMPLETE;
          if (i === s || v > 0xffffffff || !isDelimiter(buf[i]!))
            return this.#failAt("bad client flags token");
          r.clientFlags = v;
          r.hasClientFlags = true;
          break;
        }
        case 0x63: {
          // c<uint64>
          let v = 0;
          const s = i;
          for (; i < len; i++) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) break;
            v = v * 10 + d;
          }
          if (i >= len) return INCOMPLETE;
          const digits = i - s;
          if (digits === 0 || digits > 20 || !isDelimiter(buf[i]!)) return this.#failAt("bad CAS token");
          if (digits > MAX_SAFE_DIGITS) {
            const big = BigInt(buf.toString("latin1", s, i));
            if (big > 0xffffffffffffffffn) return this.#failAt("CAS token exceeds 64 bits");
            r.casBig = big;
          } else r.cas = v;
          r.hasCas = true;
          break;
        }
        case 0x74: {
          // t<int>, -1 for "no expiry"
          let neg = false;
          if (i < len && buf[i] === 0x2d) {
            neg = true;
            i++;
          }
          let v = 0;
          const s = i;
          for (; i < len; i++) {
            const d = buf[i]! - 48;
            if (d < 0 || d > 9) break;
            v = v * 10 + d;
          }
          if (i >= len) return INCOMPLETE;
          if (i === s || i - s > 10 || !isDelimiter(buf[i]!)) return this.#failAt("bad TTL token");
          r.ttl = neg ? -v : v;
          r.hasTtl = true;
          break;
        }
        case 0x57: // W
          r.win = true;
          break;
        case 0x58: // X
          r.stale = true;
          break;
        case 0x5a: // Z
          r.lost = true;
          break;
        default:
          // Flags the transport does not use (k, s, O, b, h, l, ...) must still be printable tokens.
          if (flag <= SP || flag >= 0x7f) return this.#failAt("bad flag in a meta response");
      }
      // Skip whatever remains of the token (e.g. the key after `k`); tokens hold printable bytes only.
      for (; i < len; i++) {
        const t = buf[i]!;
        if (t === SP || t === CR || t === LF) break;
        if (t < SP || t === 0x7f) return this.#failAt("control byte in a meta response token");
      }
    }
    if (code !== RC_VA) {
      this.#sink.onResponse(r);
      return i;
    }
    // The data block and its "\r\n".
    const end = i + size;
    if (end + 2 <= len) {
      if (buf[end] !== CR || buf[end + 1] !== LF)
        return this.#failAt("value block is not terminated by \\r\\n");
      if (size === 0) r.value = EMPTY;
      else {
        // A copy, not a view: a view would pin the whole 64 KiB socket chunk for as long as the caller keeps it.
        const v = Buffer.allocUnsafe(size);
        buf.copy(v, 0, i, end);
        r.value = v;
      }
      this.#sink.onResponse(r);
      return end + 2;
    }
    const vb = Buffer.allocUnsafe(size + 2);
    const have = len - i;
    buf.copy(vb, 0, i, len);
    this.#valueBuf = vb;
    this.#valueFill = have;
    return len;
  }

  /** A text line (anything that is not a well-formed meta code). */
  #parseText(buf: Buffer, pos: number, len: number): number {
    const nl = buf.indexOf(LF, pos);
    if (nl < 0 || nl >= len) return INCOMPLETE;
    let end = nl;
    if (end > pos && buf[end - 1] === CR) end--;
    const r = this.#r;
    r.reset();
    const n = end - pos;
    const c0 = buf[pos];
    if (n === 2 && c0 === 0x4f && buf[pos + 1] === 0x4b) r.code = RC_OK;
    else if (n === 3 && startsWith(buf, pos, END)) r.code = RC_END;
    else if (n === 6 && startsWith(buf, pos, STORED)) r.code = RC_STORED;
    else if (n === 7 && startsWith(buf, pos, TOUCHED)) r.code = RC_TOUCHED;
    else if (n === 9 && startsWith(buf, pos, NOT_FOUND)) r.code = RC_NOT_FOUND;
    else if (n >= 5 && c0 === 0x53 && startsWith(buf, pos, STAT)) {
      r.code = RC_STAT;
      r.text = buf.toString("latin1", pos + 5, end);
    } else if (n >= 8 && c0 === 0x56 && startsWith(buf, pos, VERSION)) {
      r.code = RC_VERSION;
      r.text = buf.toString("latin1", pos + 8, end);
    } else if (isWord(buf, pos, end, ERROR)) {
      r.code = RC_ERROR;
      r.text = buf.toString("latin1", Math.min(pos + 6, end), end);
    } else if (isWord(buf, pos, end, CLIENT_ERROR)) {
      r.code = RC_CLIENT_ERROR;
      r.text = buf.toString("latin1", Math.min(pos + 13, end), end);
    } else if (isWord(buf, pos, end, SERVER_ERROR)) {
      r.code = RC_SERVER_ERROR;
      r.text = buf.toString("latin1", Math.min(pos + 13, end), end);
    } else {
      r.code = RC_LINE;
      r.text = buf.toString("latin1", pos, end);
    }
    this.#sink.onResponse(r);
    return nl + 1;
  }

  #failAt(message: string): number {
    this.#fail(message);
    return FAILED;
  }
}

const END = Buffer.from("END");
const STORED = Buffer.from("STORED");
const TOUCHED = Buffer.from("TOUCHED");
const NOT_FOUND = Buffer.from("NOT_FOUND");
const STAT = Buffer.from("STAT ");
const VERSION = Buffer.from("VERSION ");
const ERROR = Buffer.from("ERROR");
const CLIENT_ERROR = Buffer.from("CLIENT_ERROR");
const SERVER_ERROR = Buffer.from("SERVER_ERROR");

function isDelimiter(b: number): boolean {
  return b === SP || b === CR || b === LF;
}

function startsWith(buf: Buffer, pos: number, word: Buffer): boolean {
  for (let k = 0; k < word.length; k++) if (buf[pos + k] !== word[k]) return false;
  return true;
}

/** `word` exactly, or `word` followed by a space and a message. */
function isWord(buf: Buffer, pos: number, end: number, word: Buffer): boolean {
  const n = end - pos;
  if (n < word.length || !startsWith(buf, pos, word)) return false;
  return n === word.length || buf[pos + word.length] === SP;
}

export function codeName(code: number): string {
  switch (code) {
    case RC_HD:
      return "HD";
    case RC_VA:
      return "VA";
    case RC_EN:
      return "EN";
    case RC_NS:
      return "NS";
    case RC_EX:
      return "EX";
    case RC_NF:
      return "NF";
    case RC_MN:
      return "MN";
    case RC_OK:
      return "OK";
    case RC_END:
      return "END";
    case RC_STORED:
      return "STORED";
    case RC_STAT:
      return "STAT";
    case RC_TOUCHED:
      return "TOUCHED";
    case RC_NOT_FOUND:
      return "NOT_FOUND";
    case RC_VERSION:
      return "VERSION";
    case RC_ERROR:
      return "ERROR";
    case RC_CLIENT_ERROR:
      return "CLIENT_ERROR";
    case RC_SERVER_ERROR:
      return "SERVER_ERROR";
    default:
      return "a text line";
  }
}
