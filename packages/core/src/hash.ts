/**
 * Hashes used by the ring. Both run on the hot path of every request, so they avoid per-call allocations: input is
 * encoded into a module-level scratch buffer and results are written into caller-owned typed arrays. JavaScript is
 * single-threaded and none of these functions re-enter, so sharing the scratch buffer is safe.
 */

// ---------------------------------------------------------------------------------------------------------------
// MD5, for ketama. Compatibility with libmemcached/hashring requires MD5 of the UTF-8 bytes. A pure-TS MD5 of a short
// key is about 8x faster than `createHash("md5")` (130 ns against 1.1 µs for "user:12345" on Node 20: no native call,
// no Hash object, no Buffer per call). The tests check it against node:crypto.
// ---------------------------------------------------------------------------------------------------------------

let scratch = new ArrayBuffer(1024);
let scratchBytes = new Uint8Array(scratch);
let scratchWords = new Int32Array(scratch);
const state = new Int32Array(4);

// MD5 reads its input as little-endian 32-bit words. On a little-endian host (every platform Node ships prebuilt
// binaries for) an Int32Array view over the bytes already holds those words; a big-endian host swaps them first.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function ensureScratch(bytes: number): void {
  if (bytes <= scratchBytes.length) return;
  let size = scratchBytes.length;
  while (size < bytes) size *= 2;
  scratch = new ArrayBuffer(size);
  scratchBytes = new Uint8Array(scratch);
  scratchWords = new Int32Array(scratch);
}

/**
 * Writes the UTF-8 encoding of `input` into the scratch buffer and returns its length in bytes. Lone surrogates become
 * U+FFFD, exactly as `Buffer.from(string)` and `TextEncoder` do, so hashes match what node:crypto would compute.
 */
function encodeUtf8(input: string): number {
  const length = input.length;
  // 3 bytes per UTF-16 unit is the worst case; 72 leaves room for MD5 padding and the length trailer.
  ensureScratch(length * 3 + 72);
  const out = scratchBytes;
  let n = 0;
  for (let i = 0; i < length; i++) {
    let c = input.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >>> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < length ? input.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >>> 18);
        out[n++] = 0x80 | ((c >>> 12) & 0x3f);
        out[n++] = 0x80 | ((c >>> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
      } else {
        out[n++] = 0xef;
        out[n++] = 0xbf;
        out[n++] = 0xbd;
      }
    } else {
      out[n++] = 0xe0 | (c >>> 12);
      out[n++] = 0x80 | ((c >>> 6) & 0x3f);
      out[n++] = 0x80 | (c & 0x3f);
    }
  }
  return n;
}

// The 64 steps are written out with their shift amounts and constants inline: V8 does not inline four step
// helpers into a function this large, and the calls cost more than the arithmetic.
/** One MD5 compression of the 16 words at `w[o..o+15]` into `state`. */
function compress(w: Int32Array, o: number): void {
  const x0 = w[o]!;
  const x1 = w[o + 1]!;
  const x2 = w[o + 2]!;
  const x3 = w[o + 3]!;
  const x4 = w[o + 4]!;
  const x5 = w[o + 5]!;
  const x6 = w[o + 6]!;
  const x7 = w[o + 7]!;
  const x8 = w[o + 8]!;
  const x9 = w[o + 9]!;
  const x10 = w[o + 10]!;
  const x11 = w[o + 11]!;
  const x12 = w[o + 12]!;
  const x13 = w[o + 13]!;
  const x14 = w[o + 14]!;
  const x15 = w[o + 15]!;
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  // Round 1
  a = (a + ((b & c) | (~b & d)) + x0 + 0xd76aa478) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + x1 + 0xe8c7b756) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + x2 + 0x242070db) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + x3 + 0xc1bdceee) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + x4 + 0xf57c0faf) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + x5 + 0x4787c62a) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + x6 + 0xa8304613) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + x7 + 0xfd469501) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + x8 + 0x698098d8) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + x9 + 0x8b44f7af) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + x10 + 0xffff5bb1) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + x11 + 0x895cd7be) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  a = (a + ((b & c) | (~b & d)) + x12 + 0x6b901122) | 0;
  a = (((a << 7) | (a >>> 25)) + b) | 0;
  d = (d + ((a & b) | (~a & c)) + x13 + 0xfd987193) | 0;
  d = (((d << 12) | (d >>> 20)) + a) | 0;
  c = (c + ((d & a) | (~d & b)) + x14 + 0xa679438e) | 0;
  c = (((c << 17) | (c >>> 15)) + d) | 0;
  b = (b + ((c & d) | (~c & a)) + x15 + 0x49b40821) | 0;
  b = (((b << 22) | (b >>> 10)) + c) | 0;
  // Round 2
  a = (a + ((b & d) | (c & ~d)) + x1 + 0xf61e2562) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + x6 + 0xc040b340) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + x11 + 0x265e5a51) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + x0 + 0xe9b6c7aa) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + x5 + 0xd62f105d) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + x10 + 0x02441453) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + x15 + 0xd8a1e681) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + x4 + 0xe7d3fbc8) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + x9 + 0x21e1cde6) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + x14 + 0xc33707d6) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + x3 + 0xf4d50d87) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + x8 + 0x455a14ed) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  a = (a + ((b & d) | (c & ~d)) + x13 + 0xa9e3e905) | 0;
  a = (((a << 5) | (a >>> 27)) + b) | 0;
  d = (d + ((a & c) | (b & ~c)) + x2 + 0xfcefa3f8) | 0;
  d = (((d << 9) | (d >>> 23)) + a) | 0;
  c = (c + ((d & b) | (a & ~b)) + x7 + 0x676f02d9) | 0;
  c = (((c << 14) | (c >>> 18)) + d) | 0;
  b = (b + ((c & a) | (d & ~a)) + x12 + 0x8d2a4c8a) | 0;
  b = (((b << 20) | (b >>> 12)) + c) | 0;
  // Round 3
  a = (a + (b ^ c ^ d) + x5 + 0xfffa3942) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + x8 + 0x8771f681) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + x11 + 0x6d9d6122) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + x14 + 0xfde5380c) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + x1 + 0xa4beea44) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + x4 + 0x4bdecfa9) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + x7 + 0xf6bb4b60) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + x10 + 0xbebfbc70) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + x13 + 0x289b7ec6) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + x0 + 0xeaa127fa) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + x3 + 0xd4ef3085) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + x6 + 0x04881d05) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  a = (a + (b ^ c ^ d) + x9 + 0xd9d4d039) | 0;
  a = (((a << 4) | (a >>> 28)) + b) | 0;
  d = (d + (a ^ b ^ c) + x12 + 0xe6db99e5) | 0;
  d = (((d << 11) | (d >>> 21)) + a) | 0;
  c = (c + (d ^ a ^ b) + x15 + 0x1fa27cf8) | 0;
  c = (((c << 16) | (c >>> 16)) + d) | 0;
  b = (b + (c ^ d ^ a) + x2 + 0xc4ac5665) | 0;
  b = (((b << 23) | (b >>> 9)) + c) | 0;
  // Round 4
  a = (a + (c ^ (b | ~d)) + x0 + 0xf4292244) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + x7 + 0x432aff97) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + x14 + 0xab9423a7) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + x5 + 0xfc93a039) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + x12 + 0x655b59c3) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + x3 + 0x8f0ccc92) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + x10 + 0xffeff47d) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + x1 + 0x85845dd1) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + x8 + 0x6fa87e4f) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + x15 + 0xfe2ce6e0) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + x6 + 0xa3014314) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + x13 + 0x4e0811a1) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  a = (a + (c ^ (b | ~d)) + x4 + 0xf7537e82) | 0;
  a = (((a << 6) | (a >>> 26)) + b) | 0;
  d = (d + (b ^ (a | ~c)) + x11 + 0xbd3af235) | 0;
  d = (((d << 10) | (d >>> 22)) + a) | 0;
  c = (c + (a ^ (d | ~b)) + x2 + 0x2ad7d2bb) | 0;
  c = (((c << 15) | (c >>> 17)) + d) | 0;
  b = (b + (d ^ (c | ~a)) + x9 + 0xeb86d391) | 0;
  b = (((b << 21) | (b >>> 11)) + c) | 0;
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

/** Runs MD5 over the UTF-8 bytes of `input`, leaving the digest in `state`. */
function md5State(input: string): void {
  const n = encodeUtf8(input);
  const bytes = scratchBytes;
  // Padding: 0x80, zeros up to 56 mod 64, then the bit length as a 64-bit little-endian integer.
  const blocks = ((n + 8) >>> 6) + 1;
  const end = blocks << 6;
  bytes[n] = 0x80;
  bytes.fill(0, n + 1, end - 8);
  const words = scratchWords;
  const last = (blocks << 4) - 2;
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < last; i++) {
      const v = words[i]!;
      words[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    }
  }
  // Written as words after the optional swap, so they are right on either byte order.
  words[last] = n << 3;
  words[last + 1] = n >>> 29;
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  for (let o = 0; o < blocks << 4; o += 16) compress(words, o);
}

/**
 * MD5 of the UTF-8 bytes of `input`, as the four digest words read little-endian: `out[j]` is digest bytes
 * `4j..4j+3` with byte `4j` lowest. These are exactly the four ketama points libmemcached and hashring take from one
 * digest (`ketama_server_hash(..., alignment = j)`).
 */
export function md5Words(input: string, out: Uint32Array): void {
  md5State(input);
  out[0] = state[0]!;
  out[1] = state[1]!;
  out[2] = state[2]!;
  out[3] = state[3]!;
}

/**
 * The first little-endian word of the MD5 digest of `input` (UTF-8), as an unsigned 32-bit integer: libhashkit's
 * `hashkit_md5`, the key hash of libmemcached's weighted ketama and of hashring's `hashValue`.
 */
export function md5Hash32(input: string): number {
  md5State(input);
  return state[0]! >>> 0;
}

/** The 16-byte MD5 digest of the UTF-8 bytes of `input` (a fresh array; not for hot paths). */
export function md5(input: string): Uint8Array {
  md5State(input);
  const out = new Uint8Array(16);
  for (let j = 0; j < 4; j++) {
    const v = state[j]!;
    out[4 * j] = v & 0xff;
    out[4 * j + 1] = (v >>> 8) & 0xff;
    out[4 * j + 2] = (v >>> 16) & 0xff;
    out[4 * j + 3] = v >>> 24;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// 64-bit string hash, for rendezvous. There is no other client to agree with, so it reads UTF-16 code units directly
// (no encoding step) two at a time, through two MurmurHash3-style lanes with different constants and seeds.
// ---------------------------------------------------------------------------------------------------------------

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593;
const C3 = 0x85ebca77 | 0;
const C4 = 0xc2b2ae3d | 0;
const SEED_LO = 0x9747b28c | 0;
const SEED_HI = 0x3c6ef372;

/** MurmurHash3's 32-bit finaliser: full avalanche, a bijection on 32-bit integers. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/**
 * A 64-bit hash of `input`'s UTF-16 code units, written as two signed 32-bit halves into `out[0]` (low) and `out[1]`
 * (high). Not cryptographic; it spreads keys evenly and is stable across platforms and Node versions.
 */
export function hash64(input: string, out: Int32Array): void {
  const length = input.length;
  let lo = SEED_LO;
  let hi = SEED_HI;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    const k = input.charCodeAt(i) | (input.charCodeAt(i + 1) << 16);
    let k1 = Math.imul(k, C1);
    k1 = Math.imul((k1 << 15) | (k1 >>> 17), C2);
    lo ^= k1;
    lo = (lo << 13) | (lo >>> 19);
    lo = (Math.imul(lo, 5) + 0xe6546b64) | 0;
    let k2 = Math.imul(k, C3);
    k2 = Math.imul((k2 << 17) | (k2 >>> 15), C4);
    hi ^= k2;
    hi = (hi << 15) | (hi >>> 17);
    hi = (Math.imul(hi, 5) + 0x52dce729) | 0;
  }
  if (i < length) {
    const k = input.charCodeAt(i);
    const k1 = Math.imul(k, C1);
    lo ^= Math.imul((k1 << 15) | (k1 >>> 17), C2);
    const k2 = Math.imul(k, C3);
    hi ^= Math.imul((k2 << 17) | (k2 >>> 15), C4);
  }
  lo ^= length;
  hi ^= length;
  // Cross-feed the lanes so each output half depends on both.
  lo = (lo + hi) | 0;
  hi = (hi + lo) | 0;
  lo = fmix32(lo);
  hi = fmix32(hi);
  lo = (lo + hi) | 0;
  hi = (hi + lo) | 0;
  out[0] = lo;
  out[1] = hi;
}
