/**
 * A stateless model checker for the engine's protocols over gated `MemoryTransport`s.
 *
 * Every request any client sends is held at the transport's gate. Whenever the system is quiescent (every client is
 * waiting on held requests or done), the explorer picks one *choice* and lets the system run until it is quiescent
 * again:
 *   - `d:<request>`  deliver the oldest held request of one client to one server (a client's requests to a server
 *                    arrive in the order it sent them, as on one pipelined connection);
 *   - `t:<request>`  time the request out at the client (the caller gets `TimeoutError`) while it stays in flight:
 *                    it is still applied when delivered later, or dropped (`x:`) — measured on memcached, a request
 *                    that timed out may be applied after the client moved on;
 *   - `x:<request>`  drop a request that timed out (never applied);
 *   - `tick`         advance the clients' timers (hint replay, fetch's lease polling) by 20 ms.
 * Each run replays a prefix of choices from scratch and extends it depth-first; every choice sequence is explored,
 * except that sleep sets skip orderings that only swap independent choices (deliveries to different servers
 * commute: they touch different server state and wake different callers), so each distinct ordering of events per
 * server is run once. The checker then inspects the final state (and may read through a fresh client).
 */
import { vi } from "vitest";

export interface Choice {
  /** Stable within one prefix: `d:<label>`, `t:<label>`, `x:<label>` or `tick`. */
  id: string;
  /** The server the choice touches; undefined for `tick` (dependent on everything). */
  server: string | undefined;
  /** The client the choice wakes. */
  client: string | undefined;
}

/** Two choices commute when they touch different servers (and neither is a tick or a timeout of the same client). */
export function independent(a: Choice, b: Choice): boolean {
  if (a.server === undefined || b.server === undefined) return false;
  if (a.server === b.server) return false;
  const timeout = a.id.startsWith("t:") || b.id.startsWith("t:");
  return !(timeout && a.client === b.client);
}

/** The system under test, as one execution sees it. */
export interface Execution {
  /** Choices enabled now (the system is quiescent). Empty: finished. */
  enabled(): Choice[];
  /** Takes a choice and runs until quiescent again. */
  take(choice: Choice): Promise<void>;
  /** Called once when nothing is enabled any more: a violation description, or undefined. */
  finish(): Promise<string | undefined>;
  /** Releases everything (always called). */
  dispose(): Promise<void>;
}

export interface ExploreResult {
  /** Complete executions run (each a distinct ordering). */
  runs: number;
  /** Executions cut short because every enabled choice was asleep (an ordering already covered). */
  pruned: number;
  violations: string[];
  /** Longest choice sequence. */
  depth: number;
  /** The budget ran out before every ordering was run. */
  partial?: boolean;
}

interface Frame {
  enabled: Choice[];
  sleep: Map<string, Choice>;
  tried: Choice[];
  chosen: Choice;
}

/**
 * Depth-first search with sleep sets over every ordering of `start()`'s executions. Stops collecting after
 * `maxViolations` and refuses to run more than `limit` executions (the scenario is then too big to prove).
 */
export async function explore(
  start: () => Promise<Execution>,
  {
    limit = 20_000,
    maxViolations = 5,
    reduce = true,
    budget = Number.POSITIVE_INFINITY,
  }: {
    limit?: number;
    maxViolations?: number;
    /** Sleep-set reduction; off: every interleaving, for cross-checking the reduction. @default true */
    reduce?: boolean;
    /** Stop (without error) after this many executions: the result is then `partial`. @default unlimited */
    budget?: number;
  } = {},
): Promise<ExploreResult> {
  const stack: Frame[] = [];
  const result: ExploreResult = { runs: 0, pruned: 0, violations: [], depth: 0 };
  for (;;) {
    const outcome = await runOnce(start, stack, reduce);
    if (process.env.MCPAIR_DEBUG_PATHS) {
      console.info(
        stack.map((f) => f.chosen.id).join(" "),
        outcome.kind === "done" ? (outcome.violation ?? "ok") : "pruned",
      );
    }
    if (outcome.kind === "pruned") result.pruned++;
    else {
      result.runs++;
      if (outcome.violation !== undefined) {
        result.violations.push(`[${stack.map((f) => f.chosen.id).join(" ")}] ${outcome.violation}`);
        if (result.violations.length >= maxViolations) return result;
      }
    }
    result.depth = Math.max(result.depth, stack.length);
    if (result.runs + result.pruned >= budget) {
      result.partial = true;
      return result;
    }
    if (result.runs + result.pruned >= limit) {
      throw new Error(`more than ${limit} executions: reduce the scenario`);
    }
    // Backtrack to the deepest frame with an untried choice that is not asleep.
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) return result;
      const next = top.enabled.find((c) => !top.sleep.has(c.id) && !top.tried.some((t) => t.id === c.id));
      if (next !== undefined) {
        top.tried.push(next);
        top.chosen = next;
        break;
      }
      stack.pop();
    }
  }
}

async function runOnce(
  start: () => Promise<Execution>,
  stack: Frame[],
  reduce: boolean,
): Promise<{ kind: "done"; violation: string | undefined } | { kind: "pruned" }> {
  const exec = await start();
  try {
    for (let depth = 0; ; depth++) {
      const enabled = exec.enabled();
      if (enabled.length === 0) {
        if (depth < stack.length) throw new Error(`nondeterminism: finished early at step ${depth}`);
        return { kind: "done", violation: await exec.finish() };
      }
      let frame = stack[depth];
      if (frame === undefined) {
        // A new node: its sleep set is the parent's sleeping and already-tried choices that commute with the choice
        // that led here (they would lead to orderings the parent's other branches cover).
        const parent = stack[depth - 1];
        const sleep = new Map<string, Choice>();
        if (parent !== undefined && reduce) {
          const candidates = [...parent.sleep.values(), ...parent.tried.filter((t) => t !== parent.chosen)];
          for (const c of candidates) {
            if (independent(c, parent.chosen) && enabled.some((e) => e.id === c.id)) sleep.set(c.id, c);
          }
        }
        const first = enabled.find((c) => !sleep.has(c.id));
        if (first === undefined) return { kind: "pruned" };
        frame = { enabled, sleep, tried: [first], chosen: first };
        stack.push(frame);
      } else if (!enabled.some((c) => c.id === frame!.chosen.id)) {
        throw new Error(
          `nondeterminism at step ${depth}: ${frame.chosen.id} not enabled; enabled: ${enabled.map((c) => c.id).join(", ")}`,
        );
      }
      await exec.take(frame.chosen);
    }
  } finally {
    await exec.dispose();
  }
}

/** Resolves after `n` macrotask turns (every microtask chain started before has run). */
export function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (left: number) => (left === 0 ? resolve() : setImmediate(() => step(left - 1)));
    step(n);
  });
}

/** Fake `setTimeout`/`setInterval` only: `setImmediate` stays real, so `turns()` still drains the system. */
export function useFakeTimers(): void {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
}
