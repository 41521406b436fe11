/**
 * Counters (`incr`/`decr`) are authoritative on the first readable replica: the arithmetic runs there, then the
 * result is copied to the other replicas like after any authoritative write (`authority.ts`), with the authority's
 * *remaining* lifetime: a copy made with the call's TTL would outlive the original, and a fixed-window rate-limit
 * counter would come back from the copy and never reset while traffic continues (trap 12). A replica's copy may lag
 * by the increments in flight, so when the authority is lost a counter can step back by those.
 */
import { copyResult } from "./authority.js";
import type { Cluster } from "./cluster.js";
import { copyItem, isPlaceholder, isTombstone } from "./copy.js";
import { InvalidArgumentError, ServerError } from "./errors.js";
import type { ServerNode } from "./server-node.js";
import type { TransportArithmeticOptions } from "./transport.js";
import { copyTtl } from "./ttl.js";

const utf8 = new TextEncoder();

export interface CounterCall {
  ttl?: number | undefined;
  initial?: number | bigint | undefined;
  signal?: AbortSignal | undefined;
}

/** `incr`/`decr` of mapped key `k`. Resolves the new value, or `undefined` when the counter does not exist. */
export async function arithmetic(
  c: Cluster,
  mode: "incr" | "decr",
  k: string,
  delta: number | bigint,
  options: CounterCall,
): Promise<number | undefined> {
  const d = toCounter("delta", delta);
  const initial = options.initial === undefined ? undefined : toCounter("initial", options.initial);
  const ttl = c.ttl(options.ttl);
  const list = c.replicas(k);
  const auth = c.authority(k, list);
  let r: { value: bigint; cas: bigint } | null;
  let ttlLeft: number | undefined;
  try {
    const op = { mode, delta: d, initial, ttl, signal: options.signal };
    r = await counterOp(auth, k, op);
    if (r === null) {
      // The authority lost the counter (restarted, say) but a later replica may still hold it: copy it back first
      // (the copy primitive, with the source's remaining lifetime), so a failover does not reset counters.
      for (const i of list) {
        const node = c.nodes[i]!;
        if (node === auth || !node.readable(k)) continue;
        if ((await copyItem(c.repairCtx, k, node, auth).catch(() => "failed")) !== "repaired") continue;
        r = await counterOp(auth, k, op);
        break;
      }
    }
    if (r !== null) {
      // The counter's remaining lifetime, read after the arithmetic: only if the item is still the one it produced
      // (same CAS); otherwise a newer write replaced it, and the others' older copies are deleted instead.
      const meta = await auth.transport.get(k, {
        ttl: true,
        cas: true,
        value: false,
        signal: options.signal,
      });
      ttlLeft = meta === null || meta.cas !== r.cas ? undefined : copyTtl(meta.ttl, c.options.maxTtl);
    }
    auth.succeeded();
  } catch (error) {
    auth.failed(error);
    auth.hint(k);
    throw error;
  }
  if (r === null) return undefined;
  // Raw decimal with flags 0, as memcached itself stores counters, so incr keeps working on every copy.
  await copyResult(
    c,
    k,
    auth,
    ttlLeft === undefined ? undefined : { value: utf8.encode(r.value.toString()), flags: 0, ttl: ttlLeft },
  );
  return Number(r.value);
}

/** `ma` on the authority; a lease placeholder or a tombstone there counts as a miss (removed if still the same). */
async function counterOp(
  auth: ServerNode,
  k: string,
  op: TransportArithmeticOptions,
): Promise<{ value: bigint; cas: bigint } | null> {
  try {
    return await auth.transport.arithmetic(k, op);
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    const current = await auth.transport.get(k, { cas: true, signal: op.signal });
    if (current === null || !(isPlaceholder(current) || isTombstone(current))) throw error;
    await auth.transport.delete(k, { cas: current.cas, signal: op.signal });
    return auth.transport.arithmetic(k, op);
  }
}

function toCounter(name: string, v: number | bigint): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > 0xffff_ffff_ffff_ffffn)
      throw new InvalidArgumentError(`${name} must be from 0 to 2^64-1`);
    return v;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(
      `${name} must be a non-negative safe integer or a bigint, got ${String(v)}`,
    );
  }
  return BigInt(v);
}
