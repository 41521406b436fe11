/**
 * Keyv stores `{ value, expires }` envelopes. The store reads the deadline back so that it never serves an entry past
 * it, even where Keyv does not check (Keyv 5's `has` trusts the store; Keyv 6 with `checkExpired: false`), although
 * memcached, counting whole seconds, keeps the item up to 2 s longer (see `lifetime.ts`).
 *
 * Both Keyv majors serialize the envelope as JSON with `expires` last (`{"value":…,"expires":1700000000000}`; `expires`
 * is left out when there is none), so the deadline is the number right before the closing brace: read from the last
 * characters, without parsing the value. That tail cannot come from the value: the last member of a JSON object is
 * what precedes its final `}`, and a value never ends with `"expires":<number>`. Values Keyv compressed, encrypted or
 * serialized its own way do not match and are left to Keyv's own check. With Keyv 6's `serialization: false` the
 * envelope arrives as an object.
 */
const TAIL = /,"expires":(\d+(?:\.\d+)?)\}$/;
/** Longer than any `,"expires":<epoch ms, possibly fractional>}` tail. */
const TAIL_LENGTH = 48;

/** The Keyv deadline (epoch ms) of a stored value, or `undefined` when it has none or it cannot be read. */
export function deadlineOf(stored: unknown): number | undefined {
  if (typeof stored === "string") {
    if (!stored.startsWith('{"value":') || !stored.endsWith("}")) return undefined;
    const match = TAIL.exec(stored.length > TAIL_LENGTH ? stored.slice(-TAIL_LENGTH) : stored);
    return match ? Number(match[1]) : undefined;
  }
  if (stored !== null && typeof stored === "object" && "value" in stored) {
    const expires = (stored as { expires?: unknown }).expires;
    return typeof expires === "number" ? expires : undefined;
  }
  return undefined;
}

/** Whether Keyv would treat `stored` as expired at `now` (its rule: `now > expires`). */
export function isPastDeadline(stored: unknown, now: number): boolean {
  const deadline = deadlineOf(stored);
  return deadline !== undefined && now > deadline;
}
