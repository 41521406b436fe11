/**
 * Write fan-out and the write policy: a write goes to every replica of its key in parallel; a replica that is down
 * or fails gets a hint (this client will not read it for the key until the miss was replayed there, see `hints.ts`);
 * what success means while some replica did not acknowledge is the `writePolicy` (`options.ts`).
 */
import type { Cluster } from "./cluster.js";
import { ReplicationError } from "./errors.js";
import type { WireEntry } from "./item-engine.js";
import type { Transport, TransportSetOptions } from "./transport.js";

/** What one replica did with one request: acknowledged (with its answer), failed, or skipped as down. */
export type Outcome =
  | { ok: true; value: unknown }
  | { ok: false; error: unknown }
  | { ok: false; skipped: true };
export const SKIPPED: Outcome = Object.freeze({ ok: false, skipped: true });
const noop = () => undefined;

/**
 * Runs `op` on the replicas `list` in parallel; replicas that are down or fail get a hint for `k` (`"cascade"`: a
 * delete's first round, see `deletes.ts`). Every request is issued before the first await (so they share one
 * pipelined write per server), then awaited in order: cheaper on the hot path than `Promise.all` with two closures
 * per replica.
 */
export async function onEach(
  c: Cluster,
  k: string,
  list: readonly number[],
  op: (t: Transport) => Promise<unknown>,
  hint: "plain" | "cascade" | false = "plain",
): Promise<Outcome[]> {
  const n = list.length;
  const pending: Array<Promise<unknown> | undefined> = new Array(n);
  for (let j = 0; j < n; j++) {
    const node = c.nodes[list[j]!]!;
    if (!node.reachable) continue;
    const p = op(node.transport);
    // A later replica can fail while we still await an earlier one: mark its rejection handled now, or Node
    // reports it as unhandled (and exits, by default) before our await reaches it.
    p.catch(noop);
    pending[j] = p;
  }
  const outcomes: Outcome[] = new Array(n);
  for (let j = 0; j < n; j++) {
    const node = c.nodes[list[j]!]!;
    const p = pending[j];
    if (p === undefined) outcomes[j] = SKIPPED;
    else {
      try {
        const value = await p;
        node.succeeded();
        outcomes[j] = { ok: true, value };
      } catch (error) {
        node.failed(error);
        outcomes[j] = { ok: false, error };
      }
    }
    if (hint !== false && !outcomes[j]!.ok) {
      node.hint(k, hint === "cascade");
      c.stats.hintsRecorded++;
    }
  }
  return outcomes;
}

/** Throws `ReplicationError` when `outcomes` do not meet the write policy. */
export function checkPolicy(
  c: Cluster,
  what: string,
  k: string,
  list: readonly number[],
  outcomes: readonly Outcome[],
): void {
  let acked = 0;
  for (const o of outcomes) if (o.ok) acked++;
  if (acked === outcomes.length) return;
  if (acked > 0 && c.options.writePolicy === "one") return;
  const failures: Array<{ server: string; error: unknown }> = [];
  const acknowledged: string[] = [];
  outcomes.forEach((o, j) => {
    const node = c.nodes[list[j]!]!;
    if (o.ok) acknowledged.push(node.name);
    else failures.push({ server: node.name, error: "error" in o ? o.error : node.unavailable() });
  });
  throw new ReplicationError(
    `${what} of key ${JSON.stringify(k.slice(0, 64))} was acknowledged by ${acked} of ${outcomes.length} replicas (writePolicy "${c.options.writePolicy}")`,
    failures,
    acknowledged,
  );
}

/** Writes entries to every replica (one pipelined batch per server); per entry `true` or the policy's error. */
export function writeEntries(
  c: Cluster,
  entries: readonly WireEntry[],
  signal: AbortSignal | undefined,
): Promise<Array<true | Error>> {
  return Promise.all(
    entries.map(async ({ key: k, value: enc, ttl }) => {
      const list = c.replicas(k);
      const outcomes = await onEach(c, k, list, (t) =>
        t.set(k, enc.bytes, { ttl, flags: enc.flags, signal }),
      );
      try {
        checkPolicy(c, "set", k, list, outcomes);
        return true as const;
      } catch (error) {
        return error as Error;
      }
    }),
  );
}

/**
 * Sets a new lifetime on every replica. Resolves whether any replica had the key. A replica that missed the touch is
 * hinted like one that missed a write: it may keep the old lifetime, and a copy that outlives what the caller asked
 * for must not be read (design note, trap 12).
 */
export async function touchKey(
  c: Cluster,
  k: string,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const list = c.replicas(k);
  const outcomes = await onEach(c, k, list, (t) => t.touch(k, ttl, { signal }));
  return outcomes.some((o) => o.ok && o.value === true);
}

/**
 * Turns per-entry outcomes into the batch result: the values when every entry succeeded, otherwise a
 * `ReplicationError` naming the failed keys, with one boolean per entry.
 */
export function batchResults<R>(
  what: string,
  noun: string,
  keys: readonly string[],
  outcomes: ReadonlyArray<R | Error>,
): Array<Exclude<R, Error>> {
  const failed: string[] = [];
  const failures: Array<{ server: string; error: unknown }> = [];
  outcomes.forEach((o, i) => {
    if (o instanceof Error) {
      failed.push(keys[i]!);
      if (o instanceof ReplicationError) failures.push(...o.failures);
      else failures.push({ server: "", error: o });
    }
  });
  if (failed.length > 0) {
    throw new ReplicationError(
      `${what}: ${failed.length} of ${keys.length} ${noun} were not acknowledged as the write policy requires`,
      failures,
      [],
      { keys: failed, results: outcomes.map((o) => !(o instanceof Error)) },
    );
  }
  return outcomes as Array<Exclude<R, Error>>;
}

/**
 * `set` of one key: the hot path of `writeEntries` without its per-entry closure and `Promise.all`, one options
 * object for every replica, no per-replica closure, and the outcomes array built only when a replica failed.
 */
export async function writeOne(
  c: Cluster,
  k: string,
  value: Uint8Array | string,
  flags: number,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<true | Error> {
  const list = c.replicas(k);
  const n = list.length;
  const options = { ttl, flags, signal };
  const pending: Array<Promise<unknown> | undefined> = new Array(n);
  for (let j = 0; j < n; j++) {
    const node = c.nodes[list[j]!]!;
    if (!node.reachable) continue;
    const p = (node.transport as TextTransport).set(k, value, options);
    // Awaited in order below: a later replica's rejection must be handled before the first await returns.
    if (j > 0) p.catch(noop);
    pending[j] = p;
  }
  let outcomes: Outcome[] | undefined;
  for (let j = 0; j < n; j++) {
    const node = c.nodes[list[j]!]!;
    const p = pending[j];
    let failure: Outcome | undefined = p === undefined ? SKIPPED : undefined;
    if (p !== undefined) {
      try {
        await p;
        node.succeeded();
      } catch (error) {
        node.failed(error);
        failure = { ok: false, error };
      }
    }
    if (failure !== undefined) {
      outcomes ??= Array.from({ length: n }, () => STORED);
      outcomes[j] = failure;
      node.hint(k);
      c.stats.hintsRecorded++;
    }
  }
  if (outcomes === undefined) return true;
  try {
    checkPolicy(c, "set", k, list, outcomes);
    return true;
  } catch (error) {
    return error as Error;
  }
}

const STORED: Outcome = Object.freeze({ ok: true, value: "stored" });
/** A transport's `set` as called here: `value` is a string only when the transport declares `acceptsStringValues`. */
type TextTransport = {
  set(k: string, value: Uint8Array | string, options: TransportSetOptions): Promise<unknown>;
};
