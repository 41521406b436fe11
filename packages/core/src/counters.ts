/**
 * Counters (`incr`/`decr`) are authoritative on the first readable replica: the arithmetic runs there and the result
 * is copied to the other replicas. A replica's copy may lag by the increments in flight, so when the authority is
 * lost a counter can step back by those.
 */
import type { Cluster } from "./cluster.js";
import { InvalidArgumentError, ServerError } from "./errors.js";
import { onEach } from "./fan-out.js";
import { GET } from "./read-path.js";
import { isPlaceholder, repairItem } from "./read-repair.js";
import type { ServerNode } from "./server-node.js";
import type { TransportArithmeticOptions } from "./transport.js";

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
  let r: { value: bigint } | null;
  try {
    const op = { mode, delta: d, initial, ttl, signal: options.signal };
    r = await counterOp(auth, k, op);
    if (r === null) {
      // The authority lost the counter (restarted, say) but a later replica may still hold it: copy it back with
      // the lease-guarded write-back first, so a failover does not reset counters.
      for (const i of list) {
        const node = c.nodes[i]!;
        if (node === auth || !node.readable(k)) continue;
        const item = await node.transport.get(k, GET).catch(() => null);
        if (item === null || item.stale || isPlaceholder(item)) continue;
        await repairItem(c.repairCtx, k, node, item, auth);
        r = await counterOp(auth, k, op);
        break;
      }
    }
    auth.succeeded();
  } catch (error) {
    auth.failed(error);
    auth.hint(k);
    throw error;
  }
  if (r === null) return undefined;
  const text = utf8.encode(r.value.toString());
  const others = list.filter((i) => i !== auth.index);
  // Raw decimal with flags 0, as memcached itself stores counters, so incr keeps working on every copy.
  await onEach(c, k, others, (t) => t.set(k, text, { ttl, flags: 0 }));
  return Number(r.value);
}

/** `ma` on the authority; a lease placeholder there counts as a miss (it is removed if still the same). */
async function counterOp(
  auth: ServerNode,
  k: string,
  op: TransportArithmeticOptions,
): Promise<{ value: bigint } | null> {
  try {
    return await auth.transport.arithmetic(k, op);
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    const current = await auth.transport.get(k, { cas: true, value: false, signal: op.signal });
    if (current === null || !isPlaceholder(current)) throw error;
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
