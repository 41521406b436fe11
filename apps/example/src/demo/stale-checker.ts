/**
 * Finds stale reads from the outside, as a user would: every book carries a `version` that the database increments
 * on each update. Once a write has been acknowledged (its HTTP response received), a read *issued after that* must
 * return that version or a newer one. Anything older is a stale read: a value the cache should no longer serve
 * (mcpair's promises 1 and 2, "no resurrection" and "no going back").
 */
export class StaleChecker {
  /** Highest acknowledged version per book id. */
  readonly #acked = new Map<number, number>();
  stale = 0;
  checked = 0;
  readonly examples: string[] = [];

  /** A write of `id` was acknowledged with `version`. */
  acknowledged(id: number, version: number): void {
    if (version > (this.#acked.get(id) ?? 0)) this.#acked.set(id, version);
  }

  /** Call when a read is issued; pass the result to {@link checkRead} with the version it returned. */
  expect(id: number): number {
    return this.#acked.get(id) ?? 0;
  }

  /** Whether the read was stale (it is also counted). */
  checkRead(id: number, expected: number, got: number): boolean {
    this.checked++;
    if (got >= expected) return false;
    this.stale++;
    if (this.examples.length < 5)
      this.examples.push(`book ${id}: read version ${got} after version ${expected} was acknowledged`);
    return true;
  }
}
