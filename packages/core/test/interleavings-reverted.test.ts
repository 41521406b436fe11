/**
 * Each fix of issue 8, reverted, is caught by the interleaving explorer. A fix is reverted by swapping the module
 * that holds it for the previous behaviour (`vi.doMock`, then a fresh import of the engine and the explorer), and the
 * case that exercises it must then find a violation; `interleavings.test.ts` runs the same case on the real engine
 * with 0 violations.
 *
 *   1, 2  deletes without tombstones (the previous sequential delete, last replica first): rewarm copies towards a
 *         later replica, and fetch stores a copy from a middle replica onto a later one (`deletes.ts`, `copy.ts`);
 *   3     no cascade after a replay: a delete whose request to one replica timed out loses its order (`hints.ts`);
 *   4     append/replace store into a lease placeholder (`authority.ts`);
 *   5     counter copies take the call's TTL instead of the authority's remaining lifetime (`counters.ts`);
 *   6     cas checked on a replica the client knows missed a write (`authority.ts`).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Cluster } from "../src/cluster.js";
import type { EncodedValue } from "../src/codec.js";
import type { ServerNode } from "../src/server-node.js";
import type { SetMode, TransportDeleteOptions } from "../src/transport.js";
import { useFakeTimers } from "./explorer/explore.js";
import type { Case } from "./explorer/scenarios.js";

beforeAll(() => useFakeTimers());
afterAll(() => {
  vi.doUnmock("../src/deletes.js");
  vi.doUnmock("../src/hints.js");
  vi.doUnmock("../src/authority.js");
  vi.doUnmock("../src/counters.js");
  vi.resetModules();
  vi.useRealTimers();
});

/** Runs `cases` on a fresh copy of the engine with `mock` applied; resolves the violations found per case. */
async function withRevert(
  mock: () => void,
  cases: Case[],
): Promise<Array<{ name: string; runs: number; found: number }>> {
  vi.resetModules();
  mock();
  const { explore } = await import("./explorer/explore.js");
  const { startCase, caseName } = await import("./explorer/scenarios.js");
  const out: Array<{ name: string; runs: number; found: number }> = [];
  for (const c of cases) {
    const r = await explore(() => startCase(c), { maxViolations: 1, limit: 200_000 });
    out.push({ name: caseName(c), runs: r.runs, found: r.violations.length });
    console.log(
      `reverted: ${caseName(c)}: ${r.runs} orderings until the first violation\n  ${r.violations[0]}`,
    );
  }
  return out;
}

/** The previous delete: replica by replica, last first, plain `md` (no tombstones, no cascade). */
function previousDeletes(): void {
  vi.doMock("../src/deletes.js", async (importOriginal) => {
    const real = await importOriginal<typeof import("../src/deletes.js")>();
    const { checkPolicy, onEach } = await import("../src/fan-out.js");
    const sequential = async (
      c: Cluster,
      k: string,
      opts: TransportDeleteOptions,
      what: string,
      list: readonly number[] = c.replicas(k),
    ) => {
      const outcomes = new Array(list.length);
      for (let i = list.length - 1; i >= 0; i--) {
        outcomes[i] = (await onEach(c, k, [list[i]!], (t) => t.delete(k, opts)))[0];
      }
      checkPolicy(c, what, k, list, outcomes);
      return outcomes.some((o) => o.ok && o.value === "deleted");
    };
    return {
      ...real,
      deleteKey: (
        c: Cluster,
        k: string,
        signal: AbortSignal | undefined,
        what = "delete",
        list?: readonly number[],
      ) => sequential(c, k, { signal }, what, list),
      deleteKeys: (c: Cluster, keys: readonly string[], signal: AbortSignal | undefined) =>
        Promise.all(keys.map((k) => sequential(c, k, { signal }, "delete").catch((e: Error) => e))),
      invalidateKey: (c: Cluster, k: string, staleTtl: number, signal: AbortSignal | undefined) =>
        sequential(c, k, staleTtl === 0 ? { signal } : { invalidate: staleTtl, signal }, "invalidate"),
    };
  });
}

describe("each fix of issue 8, reverted, is caught", () => {
  it("1, 2: without tombstones, rewarm towards a later replica and fetch's copy onto a later replica resurrect", async () => {
    const r = await withRevert(previousDeletes, [
      { x: "rewarm", y: "delete", replicas: 2, position: 1 },
      { x: "fetch", y: "rowUpdate", replicas: 3, position: 0 },
    ]);
    for (const c of r) expect(c.found, c.name).toBeGreaterThan(0);
  }, 300_000);

  it("3: without the cascade after a replay, a delete whose request timed out loses its order", async () => {
    const r = await withRevert(() => {
      vi.doMock("../src/hints.js", async (importOriginal) => {
        const real = await importOriginal<typeof import("../src/hints.js")>();
        class NoCascade extends real.HintLog {
          override settle(key: string): boolean {
            super.settle(key);
            return false;
          }
        }
        return { ...real, HintLog: NoCascade };
      });
    }, [
      {
        x: "get",
        y: "delete",
        replicas: 2,
        position: -1,
        timeout: { actor: "y", position: 1 },
        age: true,
        xAfterAge: true,
      },
    ]);
    for (const c of r) expect(c.found, c.name).toBeGreaterThan(0);
  }, 300_000);

  it("4: append and replace into a lease placeholder leave a value nobody wrote", async () => {
    const r = await withRevert(() => {
      vi.doMock("../src/authority.js", async (importOriginal) => {
        const real = await importOriginal<typeof import("../src/authority.js")>();
        const { onEach } = await import("../src/fan-out.js");
        // The previous store: the mode's own `ms` on the authority (memcached lets MA/MR modify a placeholder),
        // then the same edit on the others.
        const authoritativeStore = async (
          c: Cluster,
          auth: ServerNode,
          mode: SetMode,
          k: string,
          enc: EncodedValue,
          ttl: number,
        ) => {
          if (mode === "add") return real.authoritativeStore(c, auth, mode, k, enc, ttl, undefined);
          const result = await auth.transport.set(k, enc.bytes, { mode, ttl, flags: enc.flags });
          if (result !== "stored") return false;
          const others = c.replicas(k).filter((i) => i !== auth.index);
          const copyMode: SetMode = mode === "append" || mode === "prepend" ? mode : "set";
          await onEach(c, k, others, (t) => t.set(k, enc.bytes, { mode: copyMode, ttl, flags: enc.flags }));
          return true;
        };
        return { ...real, authoritativeStore };
      });
    }, [
      { x: "append", y: "fetch", replicas: 2, position: 0 },
      { x: "replace", y: "none", replicas: 2, position: 0, uncached: true, lease: true },
    ]);
    for (const c of r) expect(c.found, c.name).toBeGreaterThan(0);
  }, 300_000);

  it("5: counter copies with the call's TTL outlive the counter", async () => {
    const r = await withRevert(() => {
      vi.doMock("../src/authority.js", async (importOriginal) => {
        const real = await importOriginal<typeof import("../src/authority.js")>();
        // The previous copy: the call's TTL (here the default, 23 hours), not the authority's remaining one.
        const copyResult: typeof real.copyResult = (c, k, auth, result) =>
          real.copyResult(
            c,
            k,
            auth,
            result === undefined ? undefined : { ...result, ttl: c.options.defaultTtl },
          );
        return { ...real, copyResult };
      });
    }, [{ x: "incr", y: "set", replicas: 2, position: -1 }]);
    for (const c of r) expect(c.found, c.name).toBeGreaterThan(0);
  }, 300_000);

  it("6: cas checked on a replica the client knows missed a write succeeds with an old token", async () => {
    const r = await withRevert(() => {
      vi.doMock("../src/authority.js", async (importOriginal) => {
        const real = await importOriginal<typeof import("../src/authority.js")>();
        // The previous check: reachable (any state that takes requests) instead of readable for the key.
        const casStore: typeof real.casStore = async (c, k, enc, ttl, token, signal) => {
          const node = c.byName.get(token.server)!;
          if (!node.reachable) throw node.unavailable();
          const result = await c.call(
            node,
            node.transport.set(k, enc.bytes, { ttl, flags: enc.flags, cas: token.cas, signal }),
          );
          if (result !== "stored") return false;
          await real.copyResult(c, k, node, { value: enc.bytes, flags: enc.flags, ttl });
          return true;
        };
        return { ...real, casStore };
      });
    }, [{ x: "casAfterWrite", y: "set", replicas: 2, position: -1, timeout: { actor: "x", position: 0 } }]);
    for (const c of r) expect(c.found, c.name).toBeGreaterThan(0);
  }, 300_000);
});
