/**
 * The transport conformance suite: what every `Transport` must do, asserted the same way for the in-memory transport
 * and for real memcached servers behind the socket transport, so the fake cannot drift from the server.
 *
 * The expected answers are those of memcached 1.6.18's meta protocol, checked by hand against a real server (see
 * the comments in `memory-transport.ts` for the raw exchanges). Time-dependent assertions allow one second of slack
 * because memcached's clock ticks once per second and is not aligned with the caller's clock.
 *
 * Usage (in a vitest test file):
 *
 * ```ts
 * import { runTransportConformance } from "@mcpair/core/testing";
 * runTransportConformance("socket", async () => ({ transport, advance, restart, close }));
 * ```
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, ClientClosedError, McpairError, ServerError } from "./errors.js";
import type { DumpEntry, Transport, TransportItem } from "./transport.js";

/** What the suite needs from the code under test. One harness serves the whole suite (one server). */
export interface ConformanceHarness {
  /** The transport under test. The suite closes it in its last test. */
  transport: Transport;
  /**
   * Lets `seconds` of server time pass: a fake clock for the in-memory transport, real waiting for a real server.
   * Expiry assertions poll after it (up to a few seconds), so a real server's coarse clock is tolerated.
   */
  advance(seconds: number): Promise<void>;
  /**
   * Restarts the server (empty, new pid) and resolves once it accepts connections again. When absent, the restart
   * test is skipped.
   */
  restart?(): Promise<void>;
  /** Releases everything (server, transport). Called once after the suite; `transport` may already be closed. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const text = (data: Uint8Array): string => decoder.decode(data);

/** An item with its value as text, for readable `toEqual` failures (and Buffer/Uint8Array neutrality). */
function view(item: TransportItem | null): (Omit<TransportItem, "value"> & { value: string }) | null {
  return item === null ? null : { ...item, value: text(item.value) };
}

/** A hit as `view` shows it, with defaults for the fields a test does not care to spell out. */
function hit(
  value: string,
  fields: Partial<Omit<TransportItem, "value">> = {},
): Omit<TransportItem, "value"> & { value: string } {
  return { value, flags: 0, cas: 0n, ttl: undefined, stale: false, win: false, lost: false, ...fields };
}

/** A remaining TTL right after it was set: memcached's clock may tick in between, so `expected` or one less. */
function expectTtl(actual: number | undefined, expected: number): void {
  expect(actual).toBeTypeOf("number");
  expect(actual).toBeGreaterThanOrEqual(expected - 1);
  expect(actual).toBeLessThanOrEqual(expected);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds, failing after `timeoutMs` (real time). Returns at once when it already holds. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(50);
  }
}

async function collect(entries: AsyncIterable<DumpEntry>, prefix: string): Promise<DumpEntry[]> {
  const out: DumpEntry[] = [];
  for await (const entry of entries) if (entry.key.startsWith(prefix)) out.push(entry);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Registers the conformance tests for one transport. `setup` runs once before them; keys are unique per run, so
 * the server may be shared with other suites (but `flush` and `restart` tests clear it).
 */
export function runTransportConformance(name: string, setup: () => Promise<ConformanceHarness>): void {
  describe(`transport conformance: ${name}`, () => {
    let harness: ConformanceHarness | undefined;
    const run = `mcpair-conformance-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    let counter = 0;
    /** A key nobody else uses: `<run>:<n>:<label>`. */
    const key = (label: string): string => `${run}:${++counter}:${label}`;
    const h = (): ConformanceHarness => {
      if (harness === undefined) throw new Error("conformance harness setup failed");
      return harness;
    };
    const t = (): Transport => h().transport;

    beforeAll(async () => {
      harness = await setup();
    });
    afterAll(async () => {
      await harness?.close();
    });

    describe("get and set", () => {
      it("a miss resolves to null, whatever was asked", async () => {
        const k = key("miss");
        expect(await t().get(k)).toBeNull();
        expect(await t().get(k, { cas: true, ttl: true, value: false })).toBeNull();
      });

      it("set stores value and flags; cas and ttl are reported only when asked", async () => {
        const k = key("plain");
        expect(await t().set(k, bytes("hello"), { ttl: 100, flags: 7 })).toBe("stored");
        expect(view(await t().get(k))).toEqual(hit("hello", { flags: 7 }));
        const full = await t().get(k, { cas: true, ttl: true });
        expect(full?.cas).toBeGreaterThan(0n);
        expectTtl(full?.ttl, 100);
        expect(view(full)).toEqual(hit("hello", { flags: 7, cas: full?.cas, ttl: full?.ttl }));
      });

      it("value: false returns the metadata without the bytes", async () => {
        const k = key("meta-only");
        await t().set(k, bytes("payload"), { ttl: 100, flags: 3 });
        const meta = await t().get(k, { value: false, cas: true });
        expect(meta?.cas).toBeGreaterThan(0n);
        expect(view(meta)).toEqual(hit("", { flags: 3, cas: meta?.cas }));
      });

      it("a set without flags stores flags 0 (it replaces the whole item)", async () => {
        const k = key("flags-reset");
        await t().set(k, bytes("a"), { ttl: 100, flags: 5 });
        expect(await t().set(k, bytes("b"), { ttl: 100 })).toBe("stored");
        expect(view(await t().get(k))).toEqual(hit("b", { flags: 0 }));
      });

      it("flags round-trip the whole unsigned 32-bit range", async () => {
        for (const flags of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
          const k = key(`flags-${flags}`);
          expect(await t().set(k, bytes("f"), { ttl: 100, flags })).toBe("stored");
          expect((await t().get(k))?.flags).toBe(flags);
        }
      });

      it("binary values survive: every byte value, CR LF and protocol words inside", async () => {
        const k = key("binary");
        const tricky = bytes("\r\nEND\r\nVA 3 W\r\n\n\r");
        const value = new Uint8Array(256 * 3 + tricky.length);
        for (let i = 0; i < 256 * 3; i++) value[i] = (i * 7 + (i >> 8)) & 0xff;
        value.set(tricky, 256 * 3);
        expect(await t().set(k, value, { ttl: 100 })).toBe("stored");
        const got = await t().get(k);
        expect(Array.from(got?.value ?? [])).toEqual(Array.from(value));
        for (const small of [
          bytes("\r\n"),
          new Uint8Array([0]),
          new Uint8Array([13]),
          new Uint8Array([255, 10]),
        ]) {
          const k2 = key("binary-small");
          await t().set(k2, small, { ttl: 100 });
          expect(Array.from((await t().get(k2))?.value ?? [1, 2, 3, 4])).toEqual(Array.from(small));
        }
      });

      it("an empty value is a hit with zero bytes", async () => {
        const k = key("empty");
        expect(await t().set(k, new Uint8Array(0), { ttl: 100, flags: 9 })).toBe("stored");
        expect(view(await t().get(k))).toEqual(hit("", { flags: 9 }));
      });

      it("stores a value well within maxValueSize intact and rejects one over it", async () => {
        const k = key("big");
        // Real servers count item overhead against -I, so the largest storable value is a little below it.
        const size = t().maxValueSize - 1024;
        const big = new Uint8Array(size);
        for (let i = 0; i < size; i++) big[i] = (i * 31 + 7) & 0xff;
        expect(await t().set(k, big, { ttl: 100 })).toBe("stored");
        const got = await t().get(k);
        expect(got?.value.length).toBe(size);
        expect(Buffer.from(got?.value ?? []).equals(Buffer.from(big))).toBe(true);

        const tooBig = new Uint8Array(t().maxValueSize + 1);
        const error = await t()
          .set(key("too-big"), tooBig, { ttl: 100 })
          .then(
            () => undefined,
            (err: unknown) => err,
          );
        expect(error).toBeInstanceOf(McpairError);
        // The transport is still in sync afterwards.
        expect(view(await t().get(key("after-too-big")))).toBeNull();
        await expect(t().noop()).resolves.toBeUndefined();
      });

      it("requests issued in the same turn are applied in order", async () => {
        const k = key("order");
        const results = await Promise.all([
          t().set(k, bytes("a"), { ttl: 100 }),
          t().set(k, bytes("b"), { ttl: 100 }),
          t().get(k),
          t().delete(k),
          t().get(k),
          t().set(k, bytes("c"), { ttl: 100, mode: "add" }),
          t().get(k),
        ]);
        const shown = results.map((r) => (r !== null && typeof r === "object" ? text(r.value) : r));
        expect(shown).toEqual(["stored", "stored", "b", "deleted", null, "stored", "c"]);
      });

      it("many concurrent requests each get their own answer", async () => {
        const keys = Array.from({ length: 200 }, (_, i) => key(`many-${i}`));
        const stored = await Promise.all(
          keys.map((k, i) => t().set(k, bytes(`v${i}`), { ttl: 100, flags: i })),
        );
        expect(stored.every((r) => r === "stored")).toBe(true);
        const got = await Promise.all(keys.map((k) => t().get(k)));
        expect(got.map((g) => (g === null ? null : `${text(g.value)}/${g.flags}`))).toEqual(
          keys.map((_, i) => `v${i}/${i}`),
        );
      });

      it("an already aborted signal rejects with AbortError", async () => {
        const k = key("aborted");
        await expect(t().get(k, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
        await expect(t().noop({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
      });
    });

    describe("CAS", () => {
      it("every store takes a new, unique CAS", async () => {
        const k = key("cas-unique");
        const k2 = key("cas-unique-2");
        await t().set(k, bytes("a"), { ttl: 100 });
        const c1 = (await t().get(k, { cas: true }))?.cas;
        await t().set(k, bytes("a"), { ttl: 100 });
        const c2 = (await t().get(k, { cas: true }))?.cas;
        await t().set(k2, bytes("a"), { ttl: 100 });
        const c3 = (await t().get(k2, { cas: true }))?.cas;
        expect(c1).toBeGreaterThan(0n);
        expect(new Set([c1, c2, c3]).size).toBe(3);
        // Reads do not change it.
        expect((await t().get(k2, { cas: true }))?.cas).toBe(c3);
      });

      it("a CAS store succeeds only while the item is unchanged", async () => {
        const k = key("cas-set");
        await t().set(k, bytes("v1"), { ttl: 100 });
        const c1 = (await t().get(k, { cas: true }))!.cas;
        expect(await t().set(k, bytes("v2"), { ttl: 100, cas: c1 + 1000n })).toBe("exists");
        expect(text((await t().get(k))!.value)).toBe("v1");
        expect(await t().set(k, bytes("v2"), { ttl: 100, cas: c1 })).toBe("stored");
        expect(text((await t().get(k))!.value)).toBe("v2");
        // The CAS of the replaced item no longer matches.
        expect(await t().set(k, bytes("v3"), { ttl: 100, cas: c1 })).toBe("exists");
        expect(text((await t().get(k))!.value)).toBe("v2");
      });

      it("a CAS store on a missing item is not_found and stores nothing", async () => {
        const k = key("cas-missing");
        expect(await t().set(k, bytes("v"), { ttl: 100, cas: 12345n })).toBe("not_found");
        expect(await t().get(k)).toBeNull();
      });
    });

    describe("store modes", () => {
      it("add stores only when missing (a CAS is ignored)", async () => {
        const k = key("add");
        expect(await t().set(k, bytes("a"), { ttl: 100, flags: 3, mode: "add" })).toBe("stored");
        expect(await t().set(k, bytes("b"), { ttl: 100, mode: "add" })).toBe("not_stored");
        const got = await t().get(k, { ttl: true });
        expectTtl(got?.ttl, 100);
        expect(view(got)).toEqual(hit("a", { flags: 3, ttl: got?.ttl }));
        const k2 = key("add-cas");
        expect(await t().set(k2, bytes("c"), { ttl: 100, mode: "add", cas: 999_999n })).toBe("stored");
        expect(text((await t().get(k2))!.value)).toBe("c");
        const c = (await t().get(k2, { cas: true }))!.cas;
        expect(await t().set(k2, bytes("d"), { ttl: 100, mode: "add", cas: c })).toBe("not_stored");
      });

      it("replace stores only when present", async () => {
        const k = key("replace");
        expect(await t().set(k, bytes("a"), { ttl: 100, mode: "replace" })).toBe("not_stored");
        expect(await t().get(k)).toBeNull();
        expect(await t().set(k, bytes("a"), { ttl: 100, mode: "replace", cas: 5n })).toBe("not_found");
        expect(await t().get(k)).toBeNull();
        await t().set(k, bytes("a"), { ttl: 100, flags: 1 });
        expect(await t().set(k, bytes("b"), { ttl: 200, flags: 4, mode: "replace" })).toBe("stored");
        const got = await t().get(k, { ttl: true, cas: true });
        expectTtl(got?.ttl, 200);
        expect(view(got)).toEqual(hit("b", { flags: 4, ttl: got?.ttl, cas: got?.cas }));
        expect(await t().set(k, bytes("c"), { ttl: 100, mode: "replace", cas: got!.cas + 1n })).toBe(
          "exists",
        );
        expect(await t().set(k, bytes("c"), { ttl: 100, mode: "replace", cas: got!.cas })).toBe("stored");
        expect(text((await t().get(k))!.value)).toBe("c");
      });

      it("append and prepend need an item and keep its flags and TTL", async () => {
        const k = key("append");
        expect(await t().set(k, bytes("x"), { ttl: 100, mode: "append" })).toBe("not_stored");
        expect(await t().set(k, bytes("x"), { ttl: 100, mode: "prepend" })).toBe("not_stored");
        expect(await t().set(k, bytes("x"), { ttl: 100, mode: "append", cas: 5n })).toBe("not_stored");
        expect(await t().get(k)).toBeNull();

        await t().set(k, bytes("c"), { ttl: 200, flags: 4 });
        const before = (await t().get(k, { cas: true }))!.cas;
        expect(await t().set(k, bytes("d"), { ttl: 5, flags: 9, mode: "append" })).toBe("stored");
        expect(await t().set(k, bytes("e"), { ttl: 5, flags: 9, mode: "prepend" })).toBe("stored");
        const got = await t().get(k, { ttl: true, cas: true });
        expectTtl(got?.ttl, 200);
        expect(got?.cas).not.toBe(before);
        expect(view(got)).toEqual(hit("ecd", { flags: 4, ttl: got?.ttl, cas: got?.cas }));

        expect(await t().set(k, bytes("f"), { ttl: 100, mode: "append", cas: got!.cas + 1n })).toBe("exists");
        expect(await t().set(k, bytes("f"), { ttl: 100, mode: "prepend", cas: got!.cas + 1n })).toBe(
          "exists",
        );
        expect(await t().set(k, bytes("f"), { ttl: 100, mode: "append", cas: got!.cas })).toBe("stored");
        expect(text((await t().get(k))!.value)).toBe("ecdf");
      });

      it("quiet stores resolve to the same results", async () => {
        const k = key("quiet");
        expect(await t().set(k, bytes("q"), { ttl: 100, quiet: true })).toBe("stored");
        expect(text((await t().get(k))!.value)).toBe("q");
        expect(await t().set(k, bytes("r"), { ttl: 100, quiet: true, mode: "add" })).toBe("not_stored");
        const c = (await t().get(k, { cas: true }))!.cas;
        expect(await t().set(k, bytes("r"), { ttl: 100, quiet: true, cas: c + 1n })).toBe("exists");
        expect(await t().set(key("quiet-missing"), bytes("r"), { ttl: 100, quiet: true, cas: c })).toBe(
          "not_found",
        );
        expect(text((await t().get(k))!.value)).toBe("q");
      });
    });

    describe("leases", () => {
      it("a lease on a miss creates an empty placeholder: the first caller wins, later ones lose", async () => {
        const k = key("lease");
        const first = await t().get(k, { lease: 30, cas: true, ttl: true });
        expect(first?.cas).toBeGreaterThan(0n);
        expectTtl(first?.ttl, 30);
        expect(view(first)).toEqual(hit("", { flags: 0, cas: first?.cas, ttl: first?.ttl, win: true }));

        const second = await t().get(k, { lease: 10, cas: true, ttl: true });
        // Another lease does not change the placeholder's TTL.
        expectTtl(second?.ttl, 30);
        expect(view(second)).toEqual(hit("", { cas: first?.cas, ttl: second?.ttl, lost: true }));
        // Without asking for a lease, the placeholder is still seen as someone else's.
        expect(view(await t().get(k))).toEqual(hit("", { lost: true }));
      });

      it("a CAS write-back over an untouched lease stores and ends it", async () => {
        const k = key("lease-fill");
        const lease = await t().get(k, { lease: 30, cas: true });
        expect(lease?.win).toBe(true);
        expect(await t().set(k, bytes("filled"), { ttl: 60, flags: 2, cas: lease!.cas })).toBe("stored");
        const got = await t().get(k, { ttl: true, lease: 30 });
        expectTtl(got?.ttl, 60);
        expect(view(got)).toEqual(hit("filled", { flags: 2, ttl: got?.ttl }));
      });

      it("a write-back loses when the placeholder was deleted, written or added over", async () => {
        const deleted = key("lease-deleted");
        const l1 = await t().get(deleted, { lease: 30, cas: true });
        expect(await t().delete(deleted)).toBe("deleted");
        expect(await t().set(deleted, bytes("old"), { ttl: 60, cas: l1!.cas })).toBe("not_found");
        expect(await t().get(deleted)).toBeNull();

        const written = key("lease-written");
        const l2 = await t().get(written, { lease: 30, cas: true });
        expect(await t().set(written, bytes("new"), { ttl: 60 })).toBe("stored");
        expect(await t().set(written, bytes("old"), { ttl: 60, cas: l2!.cas })).toBe("exists");
        expect(view(await t().get(written))).toEqual(hit("new"));

        const added = key("lease-add");
        await t().get(added, { lease: 30 });
        expect(await t().set(added, bytes("old"), { ttl: 60, mode: "add" })).toBe("not_stored");
        expect(view(await t().get(added))).toEqual(hit("", { lost: true }));
      });

      it("a lease on a fresh hit is a plain hit (no win, no loss, TTL unchanged)", async () => {
        const k = key("lease-hit");
        await t().set(k, bytes("v"), { ttl: 100, flags: 1 });
        const got = await t().get(k, { lease: 30, ttl: true });
        expectTtl(got?.ttl, 100);
        expect(view(got)).toEqual(hit("v", { flags: 1, ttl: got?.ttl }));
      });
    });

    describe("stale markers (invalidating delete)", () => {
      it("marks the item stale with a new CAS and TTL; the first reader wins, later ones lose", async () => {
        const k = key("stale");
        await t().set(k, bytes("abc"), { ttl: 100, flags: 7 });
        const c1 = (await t().get(k, { cas: true }))!.cas;
        expect(await t().delete(k, { invalidate: 30 })).toBe("deleted");

        const first = await t().get(k, { cas: true, ttl: true });
        expect(first?.cas).not.toBe(c1);
        expect(first?.cas).toBeGreaterThan(0n);
        expectTtl(first?.ttl, 30);
        expect(view(first)).toEqual(
          hit("abc", { flags: 7, cas: first?.cas, ttl: first?.ttl, stale: true, win: true }),
        );

        const second = await t().get(k, { cas: true, lease: 30 });
        expect(view(second)).toEqual(hit("abc", { flags: 7, cas: first?.cas, stale: true, lost: true }));
      });

      it("refuses add and old-CAS write-backs; a store with the stale item's CAS clears it", async () => {
        const k = key("stale-writeback");
        await t().set(k, bytes("abc"), { ttl: 100, flags: 7 });
        const c1 = (await t().get(k, { cas: true }))!.cas;
        await t().delete(k, { invalidate: 30 });
        const marked = await t().get(k, { cas: true });
        expect(marked?.win).toBe(true);

        expect(await t().set(k, bytes("new"), { ttl: 60, mode: "add" })).toBe("not_stored");
        expect(await t().set(k, bytes("old"), { ttl: 60, cas: c1 })).toBe("exists");
        expect(view(await t().get(k))).toEqual(hit("abc", { flags: 7, stale: true, lost: true }));

        expect(await t().set(k, bytes("fresh"), { ttl: 60, cas: marked!.cas })).toBe("stored");
        const got = await t().get(k, { ttl: true });
        expectTtl(got?.ttl, 60);
        expect(view(got)).toEqual(hit("fresh", { ttl: got?.ttl }));
      });

      it("a plain set or an append replaces the stale item with a fresh one", async () => {
        const k = key("stale-set");
        await t().set(k, bytes("abc"), { ttl: 100 });
        await t().delete(k, { invalidate: 30 });
        expect(await t().set(k, bytes("x"), { ttl: 60 })).toBe("stored");
        expect(view(await t().get(k))).toEqual(hit("x"));

        const k2 = key("stale-append");
        await t().set(k2, bytes("abc"), { ttl: 100 });
        await t().delete(k2, { invalidate: 30 });
        expect(await t().set(k2, bytes("d"), { ttl: 60, mode: "append" })).toBe("stored");
        const got = await t().get(k2, { ttl: true });
        expectTtl(got?.ttl, 30);
        expect(view(got)).toEqual(hit("abcd", { ttl: got?.ttl }));
      });

      it("the marker's TTL replaces the item's, even a shorter one", async () => {
        const k = key("stale-ttl");
        await t().set(k, bytes("v"), { ttl: 10 });
        await t().delete(k, { invalidate: 30 });
        expectTtl((await t().get(k, { ttl: true }))?.ttl, 30);
      });

      it("invalidating a missing item is not_found and leaves it missing", async () => {
        const k = key("stale-missing");
        expect(await t().delete(k, { invalidate: 30 })).toBe("not_found");
        expect(await t().get(k)).toBeNull();
        expect((await t().get(k, { lease: 30 }))?.win).toBe(true);
      });

      it("invalidating again takes a new CAS and hands out a new win token", async () => {
        const k = key("stale-again");
        await t().set(k, bytes("v"), { ttl: 100 });
        await t().delete(k, { invalidate: 30 });
        const g1 = await t().get(k, { cas: true });
        expect(g1?.win).toBe(true);
        expect(await t().delete(k, { invalidate: 30 })).toBe("deleted");
        const g2 = await t().get(k, { cas: true });
        expect(g2?.cas).not.toBe(g1?.cas);
        expect(view(g2)).toEqual(hit("v", { cas: g2?.cas, stale: true, win: true }));
        expect(await t().delete(k)).toBe("deleted");
        expect(await t().get(k)).toBeNull();
      });

      it("delete honours a CAS, also when invalidating", async () => {
        const k = key("delete-cas");
        await t().set(k, bytes("v"), { ttl: 100 });
        const c = (await t().get(k, { cas: true }))!.cas;
        expect(await t().delete(k, { cas: c + 1n })).toBe("exists");
        expect(await t().delete(k, { cas: c + 1n, invalidate: 30 })).toBe("exists");
        expect(view(await t().get(k))).toEqual(hit("v"));
        expect(await t().delete(k, { cas: c })).toBe("deleted");
        expect(await t().get(k)).toBeNull();
        expect(await t().delete(k, { cas: c })).toBe("not_found");
        expect(await t().delete(k)).toBe("not_found");

        await t().set(k, bytes("w"), { ttl: 100 });
        const c2 = (await t().get(k, { cas: true }))!.cas;
        expect(await t().delete(k, { cas: c2, invalidate: 30 })).toBe("deleted");
        expect((await t().get(k))?.stale).toBe(true);
      });
    });

    describe("arithmetic", () => {
      it("a missing counter resolves to null unless an initial value is given", async () => {
        const k = key("counter-missing");
        expect(await t().arithmetic(k)).toBeNull();
        expect(await t().arithmetic(k, { mode: "decr", delta: 3n })).toBeNull();
        expect(await t().get(k)).toBeNull();
      });

      it("creates with the initial value (the delta not applied), then counts", async () => {
        const k = key("counter");
        const r1 = await t().arithmetic(k, { initial: 10n, ttl: 100, delta: 4n });
        expect(r1?.value).toBe(10n);
        expect(r1?.cas).toBeGreaterThan(0n);
        const got = await t().get(k, { ttl: true, cas: true });
        expectTtl(got?.ttl, 100);
        expect(view(got)).toEqual(hit("10", { ttl: got?.ttl, cas: r1?.cas }));

        const r2 = await t().arithmetic(k, { initial: 10n, ttl: 100 });
        expect(r2?.value).toBe(11n);
        expect(r2?.cas).not.toBe(r1?.cas);
        expect((await t().arithmetic(k, { delta: 5n }))?.value).toBe(16n);
        expect((await t().get(k, { cas: true }))?.cas).not.toBe(r2?.cas);

        const d = key("counter-decr-create");
        expect((await t().arithmetic(d, { mode: "decr", initial: 7n, delta: 3n, ttl: 100 }))?.value).toBe(7n);
      });

      it("decr stops at zero; incr wraps at 2^64", async () => {
        const k = key("counter-bounds");
        await t().arithmetic(k, { initial: 5n, ttl: 100 });
        expect((await t().arithmetic(k, { mode: "decr", delta: 100n }))?.value).toBe(0n);
        expect((await t().arithmetic(k, { mode: "decr" }))?.value).toBe(0n);
        const max = (1n << 64n) - 1n;
        expect((await t().arithmetic(k, { delta: max }))?.value).toBe(max);
        expect((await t().arithmetic(k, { delta: 2n }))?.value).toBe(1n);

        const w = key("counter-wrap");
        await t().set(w, bytes(max.toString()), { ttl: 100 });
        expect((await t().arithmetic(w))?.value).toBe(0n);
      });

      it("a result no longer than the stored digits is padded with spaces; a longer one is not", async () => {
        const k = key("counter-pad");
        await t().set(k, bytes("10"), { ttl: 100, flags: 9 });
        expect((await t().arithmetic(k, { mode: "decr", delta: 3n }))?.value).toBe(7n);
        const got = await t().get(k, { ttl: true });
        expectTtl(got?.ttl, 100);
        expect(view(got)).toEqual(hit("7 ", { flags: 9, ttl: got?.ttl }));
        expect((await t().arithmetic(k, { delta: 200n }))?.value).toBe(207n);
        expect(view(await t().get(k))).toEqual(hit("207", { flags: 9 }));

        const w = key("counter-wrap-pad");
        await t().set(w, bytes("18446744073709551615"), { ttl: 100 });
        await t().arithmetic(w);
        expect(text((await t().get(w))!.value)).toBe(`0${" ".repeat(19)}`);
      });

      it("a non-numeric value rejects with ServerError and is left alone", async () => {
        const k = key("counter-text");
        await t().set(k, bytes("abc"), { ttl: 100 });
        await expect(t().arithmetic(k)).rejects.toBeInstanceOf(ServerError);
        await expect(t().arithmetic(k, { mode: "decr", initial: 1n, ttl: 100 })).rejects.toBeInstanceOf(
          ServerError,
        );
        expect(view(await t().get(k))).toEqual(hit("abc"));

        const empty = key("counter-empty");
        await t().set(empty, new Uint8Array(0), { ttl: 100 });
        await expect(t().arithmetic(empty)).rejects.toBeInstanceOf(ServerError);

        const placeholder = key("counter-lease");
        await t().get(placeholder, { lease: 30 });
        await expect(t().arithmetic(placeholder, { initial: 1n, ttl: 100 })).rejects.toBeInstanceOf(
          ServerError,
        );

        const negative = key("counter-negative");
        await t().set(negative, bytes("-5"), { ttl: 100 });
        await expect(t().arithmetic(negative)).rejects.toBeInstanceOf(ServerError);

        const huge = key("counter-over-64-bits");
        await t().set(huge, bytes("1234567890123456789012345"), { ttl: 100 });
        await expect(t().arithmetic(huge)).rejects.toBeInstanceOf(ServerError);
      });

      it("counting in place keeps a stale item stale; growing the digits makes a fresh item", async () => {
        const k = key("counter-stale");
        await t().set(k, bytes("10"), { ttl: 100 });
        await t().delete(k, { invalidate: 30 });
        expect((await t().arithmetic(k))?.value).toBe(11n);
        expect(view(await t().get(k))).toEqual(hit("11", { stale: true, win: true }));

        const g = key("counter-stale-grow");
        await t().set(g, bytes("9"), { ttl: 100 });
        await t().delete(g, { invalidate: 30 });
        expect((await t().arithmetic(g))?.value).toBe(10n);
        expect(view(await t().get(g))).toEqual(hit("10"));
      });
    });

    describe("touch", () => {
      it("sets a new TTL without changing the CAS; false on a miss", async () => {
        expect(await t().touch(key("touch-missing"), 100)).toBe(false);
        const k = key("touch");
        await t().set(k, bytes("v"), { ttl: 100 });
        const c = (await t().get(k, { cas: true }))!.cas;
        expect(await t().touch(k, 500)).toBe(true);
        const got = await t().get(k, { cas: true, ttl: true });
        expectTtl(got?.ttl, 500);
        expect(view(got)).toEqual(hit("v", { cas: c, ttl: got?.ttl }));
      });

      it("a stale item stays stale and keeps its win token for the next reader", async () => {
        const k = key("touch-stale");
        await t().set(k, bytes("v"), { ttl: 100 });
        await t().delete(k, { invalidate: 30 });
        expect(await t().touch(k, 60)).toBe(true);
        const got = await t().get(k, { ttl: true });
        expectTtl(got?.ttl, 60);
        expect(view(got)).toEqual(hit("v", { ttl: got?.ttl, stale: true, win: true }));
      });

      it("extends a lease placeholder", async () => {
        const k = key("touch-lease");
        expect((await t().get(k, { lease: 30 }))?.win).toBe(true);
        expect(await t().touch(k, 90)).toBe(true);
        const got = await t().get(k, { ttl: true });
        expectTtl(got?.ttl, 90);
        expect(view(got)).toEqual(hit("", { ttl: got?.ttl, lost: true }));
      });
    });

    describe("expiry", () => {
      it("items, leases, stale markers and counters expire after their TTL; a touched item lives on", async () => {
        const plain = key("exp-plain");
        const lease = key("exp-lease");
        const stale = key("exp-stale");
        const counter = key("exp-counter");
        const touched = key("exp-touched");
        await t().set(plain, bytes("v"), { ttl: 3 });
        await t().get(lease, { lease: 3 });
        await t().set(stale, bytes("v"), { ttl: 100 });
        await t().delete(stale, { invalidate: 3 });
        await t().arithmetic(counter, { initial: 1n, ttl: 3 });
        await t().set(touched, bytes("v"), { ttl: 3 });
        await t().touch(touched, 100);

        await h().advance(1);
        expect(view(await t().get(plain))).toEqual(hit("v"));
        expect(view(await t().get(lease))).toEqual(hit("", { lost: true }));
        expect((await t().get(stale))?.stale).toBe(true);
        expect(view(await t().get(counter))).toEqual(hit("1"));

        await h().advance(3);
        await eventually("the 3-second items to expire", async () => {
          const got = await Promise.all([plain, lease, stale, counter].map((k) => t().get(k)));
          return got.every((g) => g === null);
        });
        expect(view(await t().get(touched))).toEqual(hit("v"));
        // Gone means gone: a lease is a fresh win, add stores, a counter needs an initial value again.
        expect((await t().get(lease, { lease: 30 }))?.win).toBe(true);
        expect(await t().set(plain, bytes("w"), { ttl: 100, mode: "add" })).toBe("stored");
        expect(await t().arithmetic(counter)).toBeNull();
      });
    });

    describe("server commands", () => {
      it("noop resolves; version is a dotted version string", async () => {
        await expect(t().noop()).resolves.toBeUndefined();
        expect(await t().version()).toMatch(/^\d+\.\d+\.\d+/);
      });

      it("stats reports pid, uptime, time and currItems as numbers that move with time", async () => {
        const s1 = await t().stats();
        expect(Number.isInteger(s1.pid) && s1.pid > 0).toBe(true);
        expect(Number.isInteger(s1.uptime) && s1.uptime >= 0).toBe(true);
        expect(Number.isInteger(s1.time) && s1.time > 1_600_000_000).toBe(true);
        expect(Number.isInteger(s1.currItems) && s1.currItems >= 0).toBe(true);
        expect(s1.raw.pid).toBe(String(s1.pid));
        expect(s1.raw.uptime).toBe(String(s1.uptime));
        expect(s1.raw.time).toBe(String(s1.time));
        expect(s1.raw.curr_items).toBe(String(s1.currItems));

        for (let i = 0; i < 5; i++) await t().set(key(`stats-${i}`), bytes("v"), { ttl: 100 });
        const s2 = await t().stats();
        expect(s2.currItems).toBeGreaterThanOrEqual(5);
        expect(s2.pid).toBe(s1.pid);

        await h().advance(2);
        const s3 = await t().stats();
        expect(s3.pid).toBe(s1.pid);
        expect(s3.time - s2.time).toBeGreaterThanOrEqual(1);
        expect(s3.time - s2.time).toBeLessThanOrEqual(3);
        expect(s3.uptime - s2.uptime).toBeGreaterThanOrEqual(1);
        expect(s3.uptime - s2.uptime).toBeLessThanOrEqual(3);
      });

      it("dump lists the stored keys (decoded) with their absolute expiry and size", async () => {
        const prefix = key("dump");
        const k1 = `${prefix}:one`;
        const k2 = `${prefix}:two/é%20+`;
        const k3 = `${prefix}:deleted`;
        const k4 = `${prefix}:lease`;
        await t().set(k1, bytes("x"), { ttl: 100 });
        await t().set(k2, bytes("yy"), { ttl: 200, flags: 3 });
        await t().set(k3, bytes("z"), { ttl: 100 });
        await t().delete(k3);
        await t().get(k4, { lease: 30 });
        const now = (await t().stats()).time;
        const entries = await collect(t().dump(), prefix);
        expect(entries.map((e) => e.key)).toEqual([k4, k1, k2].sort());
        const byKey = new Map(entries.map((e) => [e.key, e]));
        for (const [k, ttl] of [
          [k1, 100],
          [k2, 200],
          [k4, 30],
        ] as const) {
          const entry = byKey.get(k)!;
          expect(entry.exp - now).toBeGreaterThanOrEqual(ttl - 2);
          expect(entry.exp - now).toBeLessThanOrEqual(ttl + 1);
          expect(Number.isInteger(entry.size) && entry.size > 0).toBe(true);
        }
        expect(byKey.get(k2)!.size).toBeGreaterThan(byKey.get(k1)!.size);
      });

      it("flush removes every item; later writes work", async () => {
        const k1 = key("flush-1");
        const k2 = key("flush-2");
        await t().set(k1, bytes("a"), { ttl: 100 });
        await t().get(k2, { lease: 30 });
        await expect(t().flush()).resolves.toBeUndefined();
        expect(await t().get(k1)).toBeNull();
        expect(await t().get(k2)).toBeNull();
        expect(await collect(t().dump(), k1)).toEqual([]);
        const k3 = key("flush-3");
        expect(await t().set(k3, bytes("c"), { ttl: 100 })).toBe("stored");
        expect(view(await t().get(k3))).toEqual(hit("c"));
        expect(await t().set(k1, bytes("a2"), { ttl: 100, mode: "add" })).toBe("stored");
      });
    });

    describe("lifecycle", () => {
      it("a restarted server is empty, with a new pid and a fresh uptime", async (ctx) => {
        const restart = h().restart;
        if (restart === undefined) {
          ctx.skip();
          return;
        }
        const k = key("restart");
        await t().set(k, bytes("v"), { ttl: 100 });
        const before = await t().stats();
        await restart.call(h());
        // A socket transport may need a request or two to notice the new connection.
        await eventually("the transport to reach the restarted server", async () => {
          try {
            return (await t().get(k)) === null;
          } catch {
            return false;
          }
        });
        const after = await t().stats();
        expect(after.pid).not.toBe(before.pid);
        expect(after.uptime).toBeLessThanOrEqual(5);
        expect(after.currItems).toBeLessThan(before.currItems);
        expect(await t().set(k, bytes("w"), { ttl: 100 })).toBe("stored");
        expect(view(await t().get(k))).toEqual(hit("w"));
      });

      it("close waits for requests in flight; later calls reject with ClientClosedError", async () => {
        const k = key("close");
        const inFlight = t().set(k, bytes("v"), { ttl: 100 });
        const closing = t().close();
        await expect(inFlight).resolves.toBe("stored");
        await expect(closing).resolves.toBeUndefined();
        await expect(t().get(k)).rejects.toBeInstanceOf(ClientClosedError);
        await expect(t().noop()).rejects.toBeInstanceOf(ClientClosedError);
        await expect(collect(t().dump(), k)).rejects.toBeInstanceOf(ClientClosedError);
        await expect(t().close()).resolves.toBeUndefined();
      });
    });
  });
}
