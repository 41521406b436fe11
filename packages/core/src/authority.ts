/**
 * Operations with one authoritative copy: `add`, `replace`, `append`, `prepend` and `cas` are decided by one replica
 * (the first readable one; for `cas`, the one the token came from), then the resulting item is written to the other
 * replicas: "run on the authority, then copy" (`copyResult`), the same for every such operation and for counters.
 *
 * The copy is the authority's *result*, written with a plain store before the call resolves, like a `set` of that
 * result: a write or delete concurrent with the operation may leave either value on a replica, as with two concurrent
 * `set`s, and nothing older than the result survives on a replica that acknowledged. It carries the authority's
 * remaining lifetime, never the call's (a counter copy with a fresh TTL would outlive the original: a fixed-window
 * rate-limit counter would never reset while traffic continues, trap 12). The result is never an edit applied again
 * on each replica: an append applied to a replica holding a lease placeholder would leave just the appended bytes.
 *
 * Placeholders are not values (trap 11): memcached lets append, prepend and replace modify a lease placeholder
 * (`ms k 1 MA` on one answers `HD`), so these operations first read the item's CAS and store only with it
 * (`C<cas>`): a placeholder, a stale marker, a tombstone or a miss is "absent".
 */
import type { Cluster } from "./cluster.js";
import type { EncodedValue } from "./codec.js";
import { isPlaceholder, isTombstone } from "./copy.js";
import { InvalidArgumentError, McpairError } from "./errors.js";
import { checkPolicy, type Outcome, onEach } from "./fan-out.js";
import type { ServerNode } from "./server-node.js";
import type { SetMode, TransportItem } from "./transport.js";
import { copyTtl } from "./ttl.js";

/** Opaque token from `PairClient.gets`: which replica's CAS value it is. */
export interface CasToken {
  readonly server: string;
  readonly cas: bigint;
}

/** A read-modify-write retried this often when other writers keep changing the item between our read and store. */
const MAX_ATTEMPTS = 8;

/**
 * Runs `add`/`replace`/`append`/`prepend` on the authority; when it accepts, copies the result to the others.
 * Resolves whether the authority accepted.
 */
export async function authoritativeStore(
  c: Cluster,
  auth: ServerNode,
  mode: SetMode,
  k: string,
  enc: EncodedValue,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  let result: { value: Uint8Array; flags: number; ttl: number } | undefined;
  try {
    if (mode === "add") {
      if (await addOn(auth, k, enc, ttl, signal)) result = { value: enc.bytes, flags: enc.flags, ttl };
    } else if (await editOn(auth, mode, k, enc, ttl, signal)) {
      if (mode === "replace") result = { value: enc.bytes, flags: enc.flags, ttl };
      else {
        // append/prepend: the joined value is the authority's; read it (with its remaining lifetime) to copy it.
        const item = await auth.transport.get(k, { cas: true, ttl: true, signal });
        const t = item === null ? undefined : copyTtl(item.ttl, c.options.maxTtl);
        if (item !== null && t !== undefined && !isPlaceholder(item) && !isTombstone(item) && !item.stale) {
          result = { value: item.value, flags: item.flags, ttl: t };
        } else result = undefined;
        auth.succeeded();
        await copyResult(c, k, auth, result);
        return true;
      }
    }
    auth.succeeded();
  } catch (error) {
    auth.failed(error);
    auth.hint(k);
    throw error;
  }
  if (result === undefined) return false;
  await copyResult(c, k, auth, result);
  return true;
}

/** `add`: a lease placeholder, a stale marker or a tombstone is not a value, so `add` wins over it (CAS-guarded). */
async function addOn(
  auth: ServerNode,
  k: string,
  enc: EncodedValue,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const result = await auth.transport.set(k, enc.bytes, { mode: "add", ttl, flags: enc.flags, signal });
  if (result === "stored") return true;
  if (result !== "not_stored") return false;
  // The lease holder's CAS-guarded store then fails, which is what a lease is for.
  const current = await auth.transport.get(k, { cas: true, ttl: true, value: false, signal });
  if (current === null || !(isPlaceholderMeta(current) || current.stale || isTombstone(current)))
    return false;
  return (
    (await auth.transport.set(k, enc.bytes, { ttl, flags: enc.flags, cas: current.cas, signal })) === "stored"
  );
}

/** `replace`/`append`/`prepend`, stored only with the CAS of a real item (never into a placeholder). */
async function editOn(
  auth: ServerNode,
  mode: SetMode,
  k: string,
  enc: EncodedValue,
  ttl: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await currentItem(auth, k, signal);
    if (current === undefined) return false;
    const result = await auth.transport.set(k, enc.bytes, {
      mode,
      ttl,
      flags: enc.flags,
      cas: current.cas,
      signal,
    });
    if (result === "stored") return true;
    // `exists`: another write changed the item since our read; read again. `not_found`/`not_stored`: it is gone.
    if (result !== "exists") return false;
  }
  throw new McpairError(
    `${mode} of key ${JSON.stringify(k.slice(0, 64))}: the item changed under ${MAX_ATTEMPTS} attempts in a row`,
    { code: "ERR_MCPAIR_CONTENTION", server: auth.name },
  );
}

/** The authority's real item (its CAS), or undefined for a miss, a placeholder, a stale marker or a tombstone. */
async function currentItem(
  auth: ServerNode,
  k: string,
  signal: AbortSignal | undefined,
): Promise<TransportItem | undefined> {
  const meta = await auth.transport.get(k, { cas: true, value: false, signal });
  if (meta === null || meta.stale || isTombstone(meta)) return undefined;
  if (meta.flags !== 0) return meta;
  // Flags 0: a placeholder, or a raw item (a counter) whose bytes tell it apart. Rare: read the value once.
  const full = await auth.transport.get(k, { cas: true, signal });
  return full === null || full.stale || isPlaceholder(full) ? undefined : full;
}

/** A placeholder as seen without its value: flags 0, not stale, its token handed out (to us `W`, else `Z`). */
function isPlaceholderMeta(item: TransportItem): boolean {
  return item.flags === 0 && !item.stale && (item.win || item.lost);
}

/**
 * Stores `enc` only if the item is unchanged since `token` was read. CAS is checked on the replica the token came
 * from, and only while this client may read the key there: a replica it knows missed a write of the key (hinted) or
 * that is not readable at all can hold an old item whose CAS still matches, so the call resolves false (the item did
 * change) and the caller reads again. Then the result is copied to the other replicas.
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
  if (!node.readable(k)) return false;
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
  await copyResult(c, k, node, { value: enc.bytes, flags: enc.flags, ttl });
  return true;
}

/**
 * Writes the authority's result to the other replicas (plain stores, awaited; a replica that fails is hinted; with
 * `writePolicy: "all"` that failure rejects the call with `ReplicationError`).
 * `undefined`: the result is no longer there to copy (expired, deleted meanwhile): the others' older copies are
 * deleted instead.
 */
export async function copyResult(
  c: Cluster,
  k: string,
  auth: ServerNode,
  result: { value: Uint8Array; flags: number; ttl: number } | undefined,
): Promise<void> {
  const others = c.replicas(k).filter((i) => i !== auth.index);
  if (others.length === 0) return;
  const outcomes =
    result === undefined
      ? await onEach(c, k, others, (t) => t.delete(k))
      : await onEach(c, k, others, (t) => t.set(k, result.value, { ttl: result.ttl, flags: result.flags }));
  // With writePolicy "all", an operation is acknowledged only when every replica has its result, as a `set` is:
  // the authority applied it, so a failure here is reported as a ReplicationError (a "maybe" write).
  if (c.options.writePolicy === "all") {
    checkPolicy(c, "copy of an authoritative result", k, [auth.index, ...others], [STORED, ...outcomes]);
  }
}

const STORED: Outcome = Object.freeze({ ok: true, value: "stored" });
