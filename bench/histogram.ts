/**
 * Fixed-size latency histogram in microseconds, HDR style: exact below 128 µs, then 64 linear sub-buckets per power
 * of two (at most 1.6% error) up to 2^31 µs. Recording is an integer computation and one array increment: nothing is
 * allocated per sample, so the harness neither adds garbage-collection work to the client it measures nor inflates its
 * peak RSS (a preallocated array of raw samples would cost tens of MB at 200k ops/s).
 *
 *   value (µs):  0 .. 127 | 128 .. 255 (step 2) | 256 .. 511 (step 4) | ... | 2^30 .. 2^31-1 (step 2^24)
 *   index:       0 .. 127 | 128 .. 191          | 192 .. 255          | ... | 1600 .. 1663
 */

const SUB_BITS = 6;
const SUB = 1 << SUB_BITS; // 64
const EXACT = SUB * 2; // 128
const BUCKETS = EXACT + (31 - (SUB_BITS + 1)) * SUB; // 1664

export class Histogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  maxUs = 0;

  /** Records one latency given in milliseconds (a `performance.now()` difference). */
  record(ms: number): void {
    let us = (ms * 1000) | 0;
    if (us < 0) us = 0;
    if (us > this.maxUs) this.maxUs = us;
    let index: number;
    if (us < EXACT) index = us;
    else {
      const exp = 31 - Math.clz32(us); // >= 7
      index = EXACT + (exp - SUB_BITS - 1) * SUB + ((us >>> (exp - SUB_BITS)) - SUB);
    }
    this.counts[index]!++;
    this.count++;
  }

  /** Adds another histogram's samples (to combine several processes). */
  merge(counts: ArrayLike<number>, count: number, maxUs: number): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += counts[i] ?? 0;
    this.count += count;
    if (maxUs > this.maxUs) this.maxUs = maxUs;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.maxUs = 0;
  }

  /** The latency in milliseconds below which a share `q` (0..1) of the samples fall: the bucket's midpoint. */
  quantileMs(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketMidUs(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  toJSON(): { counts: number[]; count: number; maxUs: number } {
    return { counts: Array.from(this.counts), count: this.count, maxUs: this.maxUs };
  }
}

function bucketMidUs(index: number): number {
  if (index < EXACT) return index;
  const k = index - EXACT;
  const exp = Math.floor(k / SUB) + SUB_BITS + 1;
  const step = 2 ** (exp - SUB_BITS);
  const low = (SUB + (k % SUB)) * step;
  return low + step / 2;
}
