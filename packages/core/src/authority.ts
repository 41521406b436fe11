/**
 * Operations with one authoritative copy: `add`, `replace`, `append`, `prepend` and `cas` are decided by one replica
 * (the first readable one, or for `cas` the one the token came from); when it accepts, the other replicas are
 * brought in line.
 */
import type { Cluster } from "./cluster.js";
import type { EncodedValue } from "./codec.js";
import { InvalidArgumentError } from "./errors.js";
import { onEach } from "./fan-out.js";
import { isPlaceholder } from "./read-repair.js";
import type { ServerNode } from "./server-node.js";
import type { SetMode } from "./transport.js";

/** Opaque token from `PairClient.gets`: which replica's CAS value it is. */
export interface CasToken {
  readonly server: string;
  readonly cas: bigint;
}

/** Runs a conditional store on the authority; when it succeeds, brings the other replicas in line. */
export async function authoritativeStore(
  c: Cluster,
  auth: ServerNode,
  mode: SetMode,
  k: string,
  enc: EncodedValue,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const list = c.replicas(k);
  let result: string;
  try {
    result = await auth.transport.set(k, enc.bytes, { mode, ttl, flags: enc.flags, signal });
    if (result === "not_stored" && mode === "add") {
      // A lease placeholder or a stale marker is not a value: `add` wins over it (the lease holder's CAS-guarded
      // store then fails, which is what a lease is for).
      const current = await auth.transport.get(k, { cas: true, ttl: true, value: false, signal });
      if (current !== null && (isPlaceholder(current) || current.stale)) {
        result = await auth.transport.set(k, enc.bytes, { ttl, flags: enc.flags, cas: current.cas, signal });
      }
    }
    auth.succeeded();
  } catch (error) {
    auth.failed(error);
    auth.hint(k);
    throw error;
  }
  if (result !== "stored") return false;
  // The authority accepted: bring the others in line. add/replace copy the value (whatever the others held is now
  // older); append/prepend apply the same edit (a replica without the item stays without it).
  const others = list.filter((i) => i !== auth.index);
  const copyMode: SetMode = mode === "append" || mode === "prepend" ? mode : "set";
  await onEach(c, k, others, (t) => t.set(k, enc.bytes, { mode: copyMode, ttl, flags: enc.flags }));
  return true;
}

/**
 * Stores `enc` only if the item is unchanged since `token` was read. CAS is checked on the replica the token came
 * from; when it succeeds, the other replicas get a plain copy. Resolves false when the item changed or vanished.
 */
export async function casStore(
  c: Cluster,
  k: string,
  enc: EncodedValue,
  ttl: number,
  token: CasToken,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (!token || typeof token.cas !== "bigint" || typeof token.server !== "string") {
    throw new InvalidArgumentError("cas: token must be the token returned by gets()");
  }
  const node = c.byName.get(token.server);
  if (!node)
    throw new InvalidArgumentError(`cas: token names unknown server ${JSON.stringify(token.server)}`);
  if (!node.reachable) throw node.unavailable();
  let result: string;
  try {
    result = await c.call(
      node,
      node.transport.set(k, enc.bytes, { ttl, flags: enc.flags, cas: token.cas, signal }),
    );
  } catch (error) {
    node.hint(k);
    throw error;
  }
  if (result !== "stored") return false;
  const others = c.replicas(k).filter((i) => i !== node.index);
  await onEach(c, k, others, (t) => t.set(k, enc.bytes, { ttl, flags: enc.flags }));
  return true;
}
