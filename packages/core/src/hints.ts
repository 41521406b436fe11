/**
 * The hint log of one server: keys whose last write or delete this client could not apply there.
 *
 * A hint does not carry the value. Replaying it *deletes* the key on the server: a missing copy is always safe (a read
 * falls through to the next replica and repairs from it), while replaying the value could reorder it against later
 * writes. That keeps the log small (keys only) and replay idempotent.
 *
 * While a key is hinted, the server is not read for that key; when the log overflows `limit`, the server is not read
 * at all until it has been flushed (its data is replicated, so refilling it costs partner reads, not database loads).
 *
 * A hint may also carry the *cascade* mark (`deletes.ts`): the key's delete was not confirmed on this server in its
 * first round, so the delete's order argument does not hold until it is; once the replay here is acknowledged, the
 * key is deleted again on the other replicas. Cascade marks are lost with an overflow (the flush empties this server,
 * but copies made from it before then may survive on the others) and, like every hint, when the process exits.
 */
export class HintLog {
  readonly limit: number;
  #keys = new Set<string>();
  #cascade = new Set<string>();
  #overflowed = false;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Number of hinted keys (0 after an overflow: the whole server is suspect instead). */
  get size(): number {
    return this.#keys.size;
  }

  /** True when more keys failed than the log could hold: only a flush makes the server safe to read again. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** True when reads of `key` on this server must be skipped. */
  blocks(key: string): boolean {
    return this.#overflowed || (this.#keys.size > 0 && this.#keys.has(key));
  }

  /**
   * Records a failed write/delete of `key` (with `cascade`: a delete whose first round did not reach this server).
   * Returns true when this call made the log overflow.
   */
  add(key: string, cascade = false): boolean {
    if (this.#overflowed) return false;
    if (this.#keys.size >= this.limit && !this.#keys.has(key)) {
      // Keys alone no longer describe what the server missed: drop them and require a flush.
      this.#keys.clear();
      this.#cascade.clear();
      this.#overflowed = true;
      return true;
    }
    this.#keys.add(key);
    if (cascade) this.#cascade.add(key);
    return false;
  }

  /** Takes up to `n` keys for replay (they stay hinted until `settle` is called for them). */
  peek(n: number): string[] {
    const out: string[] = [];
    for (const k of this.#keys) {
      if (out.length >= n) break;
      out.push(k);
    }
    return out;
  }

  /** The replay of `key` succeeded. Returns whether the hint carried the cascade mark. */
  settle(key: string): boolean {
    this.#keys.delete(key);
    return this.#cascade.size > 0 && this.#cascade.delete(key);
  }

  /** Forgets everything: the server was flushed or restarted empty. */
  clear(): void {
    this.#keys.clear();
    this.#cascade.clear();
    this.#overflowed = false;
  }
}
