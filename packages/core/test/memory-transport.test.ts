import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AbortError,
  ClientClosedError,
  ConnectionError,
  InvalidArgumentError,
  ServerError,
  ServerUnavailableError,
  TimeoutError,
} from "../src/errors.js";
import { MemoryTransport, type MemoryTransportOperation } from "../src/memory-transport.js";
import { createMemoryHarness } from "../src/testing.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array | undefined): string | undefined =>
  data === undefined ? undefined : new TextDecoder().decode(data);

/** Observes a promise without awaiting it: `state.settled` flips when it resolves or rejects. */
function track<T>(promise: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

/** Lets queued microtasks (and the transport's internal hops) run. */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** A gate that holds every request until the test releases it by index (in arrival order). */
function holdingGate() {
  const held: Array<{ op: MemoryTransportOperation; release: () => void; fail: (err: unknown) => void }> = [];
  const gate = (op: MemoryTransportOperation) =>
    new Promise<void>((resolve, reject) => held.push({ op, release: resolve, fail: reject }));
  return { gate, held };
}

/** All orderings of `items`. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

afterEach(() => {
  vi.useRealTimers();
});

describe("MemoryTransport options", () => {
  it("has defaults: a unique memory-N address and memcached's 1 MiB item limit", async () => {
    const a = new MemoryTransport();
    const b = new MemoryTransport();
    expect(a.address).toMatch(/^memory-\d+$/);
    expect(b.address).not.toBe(a.address);
    expect(a.maxValueSize).toBe(1_048_576);
    expect(new MemoryTransport({ address: "x:1" }).address).toBe("x:1");
    expect(await a.version()).toBe("1.6.18");
    await Promise.all([a.close(), b.close()]);
  });

  it("rejects bad options with InvalidArgumentError naming the option", async () => {
    for (const maxValueSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => new MemoryTransport({ maxValueSize })).toThrow(InvalidArgumentError);
    }
    for (const timeout of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      expect(() => new MemoryTransport({ timeout })).toThrow(/timeout/);
    }
    expect(() => new MemoryTransport({ now: 5 as unknown as () => number })).toThrow(InvalidArgumentError);
    expect(() => new MemoryTransport({ gate: "x" as unknown as () => void })).toThrow(InvalidArgumentError);
    const t = new MemoryTransport();
    await expect(t.get("k", { timeout: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => t.slow(-1)).toThrow(InvalidArgumentError);
  });
});

describe("MemoryTransport server semantics beyond the shared suite", () => {
  it("stores a value of exactly maxValueSize; one byte more is SERVER_ERROR and removes the old item", async () => {
    const t = new MemoryTransport();
    const exact = new Uint8Array(1_048_576).fill(7);
    expect(await t.set("big", exact, { ttl: 100 })).toBe("stored");
    expect((await t.get("big"))?.value.length).toBe(1_048_576);
    const error = await t.set("big", new Uint8Array(1_048_577), { ttl: 100 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).message).toBe("SERVER_ERROR object too large for cache");
    // memcached unlinks the key's item when an oversized store fails (`ms big2 1`, then 2 MB → mg: EN).
    expect(await t.get("big")).toBeNull();
  });

  it("an append that would exceed maxValueSize is not_stored and leaves the item", async () => {
    const t = new MemoryTransport({ maxValueSize: 10 });
    expect(await t.set("k", bytes("12345678"), { ttl: 100 })).toBe("stored");
    expect(await t.set("k", bytes("abc"), { ttl: 100, mode: "append" })).toBe("not_stored");
    expect(await t.set("k", bytes("ab"), { ttl: 100, mode: "append" })).toBe("stored");
    expect(text((await t.get("k"))?.value)).toBe("12345678ab");
    await expect(t.set("k", bytes("12345678901"), { ttl: 100, mode: "add" })).rejects.toBeInstanceOf(
      ServerError,
    );
    expect(await t.get("k")).toBeNull();
  });

  it("expires on memcached's one-second clock: a TTL of 1 can end at the next second boundary", async () => {
    let clock = 1_700_000_000_999;
    const t = new MemoryTransport({ now: () => clock });
    await t.set("one", bytes("v"), { ttl: 1 });
    expect((await t.get("one", { ttl: true }))?.ttl).toBe(1);
    clock += 1; // 1 ms later the second changes: `ms E1 1 T1`, 1 s later EN
    expect(await t.get("one")).toBeNull();

    await t.set("two", bytes("v"), { ttl: 2 }); // ms E2 T2 → t2, t1, then EN
    clock += 1000;
    expect((await t.get("two", { ttl: true }))?.ttl).toBe(1);
    clock += 999;
    expect((await t.get("two", { ttl: true }))?.ttl).toBe(1);
    clock += 1;
    expect(await t.get("two")).toBeNull();
  });

  it("reads TTLs like memcached: 0 never, negative at once, over 30 days an absolute Unix time", async () => {
    let clock = 1_700_000_000_000;
    const t = new MemoryTransport({ now: () => clock });
    await t.set("never", bytes("v"), { ttl: 0 });
    expect((await t.get("never", { ttl: true }))?.ttl).toBe(-1);
    expect(await t.set("negative", bytes("v"), { ttl: -1 })).toBe("stored");
    expect(await t.get("negative")).toBeNull();
    await t.set("absolute", bytes("v"), { ttl: 1_700_000_100 });
    expect((await t.get("absolute", { ttl: true }))?.ttl).toBe(100);
    await t.set("past", bytes("v"), { ttl: 1_600_000_000 });
    expect(await t.get("past")).toBeNull();
    const dump = [];
    for await (const entry of t.dump()) dump.push(entry);
    expect(dump).toEqual([
      { key: "never", exp: -1, size: 65 },
      { key: "absolute", exp: 1_700_000_100, size: 68 },
    ]);
    clock += 1_000_000_000;
    expect((await t.get("never"))?.value).toEqual(bytes("v"));
    await expect(t.set("k", bytes("v"), { ttl: 1.5 })).rejects.toBeInstanceOf(ServerError);
  });

  it("the winning lease reports the placeholder's TTL; an arithmetic create without ttl never expires", async () => {
    const t = new MemoryTransport({ now: () => 1_700_000_000_000 });
    const win = await t.get("lease", { lease: 30, ttl: true, cas: true });
    expect(win).toEqual({
      value: new Uint8Array(0),
      flags: 0,
      cas: 1n,
      ttl: 30,
      stale: false,
      win: true,
      lost: false,
    });
    expect(await t.arithmetic("counter", { initial: 5n })).toEqual({ value: 5n, cas: 2n });
    expect((await t.get("counter", { ttl: true }))?.ttl).toBe(-1);
  });

  it("parses counters like memcached's safe_strtoull", async () => {
    const t = new MemoryTransport();
    const cases: Array<[string, bigint | "error", string?]> = [
      ["  12", 13n, "13  "],
      ["+12", 13n, "13 "],
      ["12 34", 13n, "13   "],
      ["1\r\n2", 2n, "2   "],
      ["0", 1n, "1"],
      ["9", 10n, "10"],
      ["12abc", "error"],
      ["-5", "error"],
      ["", "error"],
      [" ", "error"],
      ["18446744073709551616", "error"],
    ];
    for (const [stored, expected, after] of cases) {
      await t.set("c", bytes(stored), { ttl: 100 });
      if (expected === "error") {
        await expect(t.arithmetic("c"), stored).rejects.toThrow(
          "CLIENT_ERROR cannot increment or decrement non-numeric value",
        );
      } else {
        expect((await t.arithmetic("c"))?.value, stored).toBe(expected);
        expect(text((await t.get("c"))?.value), stored).toBe(after);
      }
    }
    for (const options of [{ delta: -1n }, { delta: 1n << 64n }, { initial: 1n << 64n, ttl: 10 }]) {
      await expect(t.arithmetic("c", options)).rejects.toThrow("CLIENT_ERROR invalid or duplicate flag");
    }
  });

  it("refuses keys the server refuses (CLIENT_ERROR bad command line format)", async () => {
    const t = new MemoryTransport();
    for (const key of ["k".repeat(251), "a b", "a\r\nb", ""]) {
      await expect(t.get(key), JSON.stringify(key)).rejects.toThrow("CLIENT_ERROR bad command line format");
      await expect(t.set(key, bytes("v"), { ttl: 1 })).rejects.toBeInstanceOf(ServerError);
    }
    expect(await t.set("k".repeat(250), bytes("v"), { ttl: 10 })).toBe("stored");
    expect(await t.set("ключ", bytes("v"), { ttl: 10 })).toBe("stored");
  });

  it("hands out CAS values from one counter: c1 on a fresh server, none for a failed store", async () => {
    const t = new MemoryTransport();
    await t.set("a", bytes("v"), { ttl: 100 });
    expect((await t.get("a", { cas: true }))?.cas).toBe(1n);
    expect(await t.set("a", bytes("v"), { ttl: 100, mode: "add" })).toBe("not_stored");
    expect(await t.set("a", bytes("v"), { ttl: 100, cas: 99n })).toBe("exists");
    await t.set("b", bytes("v"), { ttl: 100 });
    expect((await t.get("b", { cas: true }))?.cas).toBe(2n);
    await t.touch("b", 50);
    expect((await t.get("b", { cas: true }))?.cas).toBe(2n);
    await t.flush();
    await t.set("c", bytes("v"), { ttl: 100 });
    expect((await t.get("c", { cas: true }))?.cas).toBe(3n);
  });

  it("stores flags modulo 2^32 like the server (F4294967296 → f0)", async () => {
    const t = new MemoryTransport();
    await t.set("f", bytes("v"), { ttl: 100, flags: 2 ** 32 + 5 });
    expect((await t.get("f"))?.flags).toBe(5);
    await expect(t.set("f", bytes("v"), { ttl: 100, flags: -1 })).rejects.toBeInstanceOf(ServerError);
  });

  it("stats: uptime 2 on a fresh server, time from the clock, exact currItems; expired items are left out", async () => {
    let clock = 1_700_000_000_500;
    const t = new MemoryTransport({ now: () => clock });
    const fresh = await t.stats();
    expect(fresh).toMatchObject({ pid: t.pid, uptime: 2, time: 1_700_000_000, currItems: 0 });
    expect(fresh.raw).toMatchObject({ pid: String(t.pid), uptime: "2", version: "1.6.18", curr_items: "0" });
    await t.set("a2", bytes("xy"), { ttl: 5 });
    await t.set("B9", bytes("10"), { ttl: 100, flags: 5 });
    await t.get("lease", { lease: 100 });
    expect((await t.stats()).currItems).toBe(3);
    expect(t.size).toBe(3);
    const sizes = [];
    for await (const entry of t.dump()) sizes.push([entry.key, entry.size]);
    // lru_crawler metadump said size=63 for key "a2" with 2 bytes, size=67 for "B9" with flags 5.
    expect(sizes).toEqual([
      ["a2", 63],
      ["B9", 67],
      ["lease", 64],
    ]);
    clock += 5000;
    const later = await t.stats();
    expect(later).toMatchObject({ uptime: 7, time: 1_700_000_005, currItems: 2 });
    expect(t.size).toBe(2);
  });

  it("copies values in and out", async () => {
    const t = new MemoryTransport();
    const value = bytes("abc");
    const pending = t.set("k", value, { ttl: 100 });
    value[0] = 0x7a;
    await pending;
    const got = await t.get("k");
    got!.value[1] = 0x7a;
    expect(text((await t.get("k"))?.value)).toBe("abc");
  });

  it("peek shows the item without handing out the win token", async () => {
    const t = new MemoryTransport({ now: () => 1_700_000_000_000 });
    await t.set("k", bytes("v"), { ttl: 100, flags: 3 });
    await t.delete("k", { invalidate: 30 });
    expect(t.peek("k")).toEqual({
      value: bytes("v"),
      flags: 3,
      cas: 2n,
      ttl: 30,
      stale: true,
      tokenSent: false,
    });
    expect((await t.get("k"))?.win).toBe(true);
    expect(t.peek("k")?.tokenSent).toBe(true);
    expect(t.peek("missing")).toBeUndefined();
  });
});

describe("MemoryTransport asynchrony and the gate", () => {
  it("never applies or answers synchronously inside the call", async () => {
    const t = new MemoryTransport();
    const state = track(t.set("k", bytes("v"), { ttl: 100 }));
    expect(t.size).toBe(0);
    expect(state.settled).toBe(false);
    await flushMicrotasks();
    expect(state).toEqual({ settled: true, value: "stored" });
    expect(t.size).toBe(1);
  });

  it("calls the gate with op, key and address before applying each request", async () => {
    const seen: MemoryTransportOperation[] = [];
    const t = new MemoryTransport({ address: "gate-test", gate: (op) => void seen.push(op) });
    await t.set("a", bytes("1"), { ttl: 100 });
    await t.get("a");
    await t.delete("a");
    await t.arithmetic("n", { initial: 1n, ttl: 10 });
    await t.touch("n", 5);
    await t.noop();
    await t.version();
    await t.stats();
    await t.flush();
    for await (const _ of t.dump()) {
      // drain
    }
    expect(seen).toEqual([
      { op: "set", key: "a", address: "gate-test" },
      { op: "get", key: "a", address: "gate-test" },
      { op: "delete", key: "a", address: "gate-test" },
      { op: "arithmetic", key: "n", address: "gate-test" },
      { op: "touch", key: "n", address: "gate-test" },
      { op: "noop", address: "gate-test" },
      { op: "version", address: "gate-test" },
      { op: "stats", address: "gate-test" },
      { op: "flush", address: "gate-test" },
      { op: "dump", address: "gate-test" },
    ]);
  });

  it("applies held requests in the order the gate releases them", async () => {
    const { gate, held } = holdingGate();
    const t = new MemoryTransport({ gate });
    const first = track(t.set("k", bytes("first"), { ttl: 100 }));
    const second = track(t.set("k", bytes("second"), { ttl: 100 }));
    await flushMicrotasks();
    expect(held.map((h) => h.op.op)).toEqual(["set", "set"]);
    held[1]!.release();
    await flushMicrotasks();
    expect(second.settled).toBe(true);
    expect(first.settled).toBe(false);
    held[0]!.release();
    await flushMicrotasks();
    expect(t.peek("k")?.value).toEqual(bytes("first"));
  });

  it("explores every ordering of a lease write-back racing a delete (no resurrection)", async () => {
    // The shape the engine's read-repair uses: lease on the primary, delete, CAS write-back.
    for (const order of permutations(["delete", "writeback"] as const)) {
      const { gate, held } = holdingGate();
      const t = new MemoryTransport({ gate });
      const setup = t.set("k", bytes("old"), { ttl: 100 });
      await flushMicrotasks();
      held.shift()!.release();
      await setup;
      // Reader: the primary misses (simulated by deleting first), takes a lease.
      const del0 = t.delete("k");
      await flushMicrotasks();
      held.shift()!.release();
      await del0;
      const lease = t.get("k", { lease: 30, cas: true });
      await flushMicrotasks();
      held.shift()!.release();
      const token = (await lease)!.cas;

      const pending = {
        delete: t.delete("k"),
        writeback: t.set("k", bytes("old"), { ttl: 100, cas: token }),
      };
      await flushMicrotasks();
      const byOp = { delete: held[0]!, writeback: held[1]! };
      for (const op of order) {
        byOp[op].release();
        await flushMicrotasks();
      }
      const [deleted, written] = await Promise.all([pending.delete, pending.writeback]);
      if (order[0] === "delete") {
        expect([deleted, written], order.join(">")).toEqual(["deleted", "not_found"]);
      } else {
        expect([deleted, written], order.join(">")).toEqual(["deleted", "stored"]);
      }
      // Either way the delete, applied last or first, leaves nothing behind.
      expect(t.peek("k"), order.join(">")).toBeUndefined();
    }
  });

  it("a throwing gate fails that request only, and it is not applied", async () => {
    let fail: unknown;
    const t = new MemoryTransport({
      gate: (op) => {
        if (op.key === "bad" && fail !== undefined) throw fail;
      },
    });
    fail = new TimeoutError("injected");
    await expect(t.set("bad", bytes("v"), { ttl: 100 })).rejects.toBe(fail);
    fail = new Error("boom");
    const error = await t.set("bad", bytes("v"), { ttl: 100 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).cause).toBe(fail);
    expect(await t.set("good", bytes("v"), { ttl: 100 })).toBe("stored");
    expect(t.peek("bad")).toBeUndefined();
  });

  it("an abort or timeout while held rejects the caller, but the server still applies the request later", async () => {
    const { gate, held } = holdingGate();
    const t = new MemoryTransport({ gate });
    const controller = new AbortController();
    const aborted = track(t.set("a", bytes("v"), { ttl: 100, signal: controller.signal }));
    const timedOut = t.set("b", bytes("v"), { ttl: 100, timeout: 20 });
    controller.abort(new Error("caller gave up"));
    await flushMicrotasks();
    expect(aborted.error).toBeInstanceOf(AbortError);
    expect((aborted.error as AbortError).cause).toEqual(new Error("caller gave up"));
    await expect(timedOut).rejects.toBeInstanceOf(TimeoutError);
    expect(t.size).toBe(0);
    for (const h of held) h.release();
    await flushMicrotasks();
    expect(t.size).toBe(2);
  });
});

describe("MemoryTransport fault injection", () => {
  it("down(): rejects at once with ServerUnavailableError, fails in-flight requests, keeps the data", async () => {
    const { gate, held } = holdingGate();
    let gated = false;
    const t = new MemoryTransport({ gate: (op) => (gated ? gate(op) : undefined), timeout: 60_000 });
    await t.set("kept", bytes("v"), { ttl: 100 });
    gated = true;
    const inFlight = t.set("lost", bytes("v"), { ttl: 100 });
    await flushMicrotasks();
    t.down();
    const started = Date.now();
    const error = await t.get("kept").catch((err: unknown) => err);
    expect(Date.now() - started).toBeLessThan(100);
    expect(error).toBeInstanceOf(ServerUnavailableError);
    expect(error).not.toBeInstanceOf(ConnectionError);
    await expect(inFlight).rejects.toBeInstanceOf(ConnectionError);
    await expect(t.stats()).rejects.toBeInstanceOf(ServerUnavailableError);
    t.up();
    held[0]!.release(); // reaches the server after it came back: still dropped (it belonged to the old connection)
    gated = false;
    await flushMicrotasks();
    expect(text((await t.get("kept"))?.value)).toBe("v");
    expect(await t.get("lost")).toBeNull();
  });

  it("hang(): no answer (TimeoutError after the timeout, AbortError on signal) and nothing applied", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const t = new MemoryTransport({ timeout: 500 });
    t.hang();
    const byDefault = track(t.set("a", bytes("v"), { ttl: 100 }));
    const short = track(t.set("b", bytes("v"), { ttl: 100, timeout: 50 }));
    const controller = new AbortController();
    const aborted = track(t.get("c", { signal: controller.signal }));
    await vi.advanceTimersByTimeAsync(49);
    expect([byDefault.settled, short.settled, aborted.settled]).toEqual([false, false, false]);
    controller.abort();
    await vi.advanceTimersByTimeAsync(1);
    expect(short.error).toBeInstanceOf(TimeoutError);
    expect(aborted.error).toBeInstanceOf(AbortError);
    expect(byDefault.settled).toBe(false);
    t.up(); // the lost requests stay lost
    await vi.advanceTimersByTimeAsync(450);
    expect(byDefault.error).toBeInstanceOf(TimeoutError);
    expect(t.size).toBe(0);
    expect(await t.set("d", bytes("v"), { ttl: 100 })).toBe("stored");
    await t.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("hang(): a request sent while hung stays lost even if the server is up before it would arrive", async () => {
    const t = new MemoryTransport({ timeout: 30 });
    t.hang();
    const lost = t.set("k", bytes("v"), { ttl: 100 });
    t.up();
    await expect(lost).rejects.toBeInstanceOf(TimeoutError);
    expect(t.size).toBe(0);
  });

  it("slow(ms): answers arrive after the delay; a caller that timed out still gets it applied", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const t = new MemoryTransport();
    t.slow(100);
    const answer = track(t.set("a", bytes("v"), { ttl: 100 }));
    const impatient = track(t.set("b", bytes("v"), { ttl: 100, timeout: 30 }));
    await vi.advanceTimersByTimeAsync(99);
    expect(answer.settled).toBe(false);
    expect(impatient.error).toBeInstanceOf(TimeoutError);
    expect(t.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(answer).toEqual({ settled: true, value: "stored" });
    expect(t.size).toBe(2);
    t.slow(0);
    const fast = track(t.noop());
    await flushMicrotasks();
    expect(fast.settled).toBe(true);
    await t.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("pause()/resume(): held requests keep their order and are applied on resume, even after a timeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const t = new MemoryTransport({ timeout: 1000 });
    await t.set("k", bytes("before"), { ttl: 100 });
    t.pause();
    const timedOut = track(t.set("k", bytes("during-1"), { ttl: 100, timeout: 20 }));
    const set2 = track(t.set("k", bytes("during-2"), { ttl: 100, mode: "append" }));
    const read = track(t.get("k"));
    await vi.advanceTimersByTimeAsync(500);
    expect(timedOut.error).toBeInstanceOf(TimeoutError);
    expect([set2.settled, read.settled]).toEqual([false, false]);
    expect(t.peek("k")?.value).toEqual(bytes("before"));
    t.resume();
    await flushMicrotasks();
    expect(set2.value).toBe("stored");
    expect(text((read.value as { value: Uint8Array } | undefined)?.value)).toBe("during-1during-2");
    await t.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("restart(): empty, new pid, uptime and CAS start over; held and hung requests fail and are dropped", async () => {
    let clock = 1_700_000_000_000;
    const t = new MemoryTransport({ now: () => clock, timeout: 60_000 });
    await t.set("a", bytes("v"), { ttl: 100 });
    await t.set("b", bytes("v"), { ttl: 100 });
    clock += 50_000;
    const before = await t.stats();
    expect(before.uptime).toBe(52);
    t.pause();
    const held = t.set("c", bytes("v"), { ttl: 100 });
    await flushMicrotasks();
    t.restart();
    await expect(held).rejects.toBeInstanceOf(ConnectionError);
    const after = await t.stats();
    expect(after.pid).not.toBe(before.pid);
    expect(after.pid).toBe(t.pid);
    expect(after).toMatchObject({ uptime: 2, currItems: 0 });
    t.resume();
    await flushMicrotasks();
    expect(t.size).toBe(0);
    await t.set("d", bytes("v"), { ttl: 100 });
    expect((await t.get("d", { cas: true }))?.cas).toBe(1n);

    t.hang();
    const hung = t.get("d");
    t.restart();
    await expect(hung).rejects.toBeInstanceOf(ConnectionError);
    expect(await t.get("d")).toBeNull();

    t.down();
    t.restart();
    await expect(t.noop()).rejects.toBeInstanceOf(ServerUnavailableError);
    t.up();
    await expect(t.noop()).resolves.toBeUndefined();
  });

  it("close(): waits for in-flight requests, then rejects everything with ClientClosedError", async () => {
    const { gate, held } = holdingGate();
    const t = new MemoryTransport({ gate });
    const inFlight = t.set("k", bytes("v"), { ttl: 100 });
    await flushMicrotasks();
    const closing = track(t.close());
    await flushMicrotasks();
    expect(closing.settled).toBe(false);
    await expect(t.get("k")).rejects.toBeInstanceOf(ClientClosedError);
    held[0]!.release();
    await expect(inFlight).resolves.toBe("stored");
    await flushMicrotasks();
    expect(closing.settled).toBe(true);
    await expect(t.close()).resolves.toBeUndefined();
    const dump = t.dump()[Symbol.asyncIterator]();
    await expect(dump.next()).rejects.toBeInstanceOf(ClientClosedError);
  });

  it("destroy(): rejects pending requests with ClientClosedError or the cause; a late gate release applies nothing", async () => {
    const { gate, held } = holdingGate();
    const t = new MemoryTransport({ gate });
    const a = t.set("a", bytes("v"), { ttl: 100 });
    await flushMicrotasks();
    t.destroy();
    await expect(a).rejects.toBeInstanceOf(ClientClosedError);
    held[0]!.release();
    await flushMicrotasks();
    expect(t.peek("a")).toBeUndefined();
    await expect(t.noop()).rejects.toBeInstanceOf(ClientClosedError);
    await expect(t.close()).resolves.toBeUndefined();

    const u = new MemoryTransport();
    u.hang();
    const cause = new Error("shutting down");
    const b = u.get("b");
    u.destroy(cause);
    await expect(b).rejects.toBe(cause);
  });

  it("leaves no timers behind after close, whatever state it was in", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const before = vi.getTimerCount();
    const t = new MemoryTransport({ timeout: 100 });
    await t.set("k", bytes("v"), { ttl: 100 });
    expect(vi.getTimerCount()).toBe(before);
    t.slow(1000);
    const slowOne = t.get("k").catch(() => undefined);
    t.slow(0);
    t.pause();
    const paused = t.get("k").catch(() => undefined);
    t.hang();
    const hung = t.get("k").catch(() => undefined);
    expect(vi.getTimerCount()).toBeGreaterThan(before);
    const closing = t.close();
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all([slowOne, paused, hung, closing]);
    // The slow request's delivery timer (it timed out, but would still be applied) is cleared by close().
    expect(vi.getTimerCount()).toBe(before);
  });

  it("a harness with a fake clock: advance() moves expiry without waiting", async () => {
    const h = createMemoryHarness({ address: "harness" });
    await h.transport.set("k", bytes("v"), { ttl: 5 });
    const start = h.now();
    await h.advance(5);
    expect(h.now() - start).toBe(5000);
    expect(await h.transport.get("k")).toBeNull();
    const pid = h.transport.pid;
    await h.restart();
    expect(h.transport.pid).not.toBe(pid);
    await h.close();
  });
});
