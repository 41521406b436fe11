/**
 * A consistency checker for histories of concurrent cache operations, recorded with wall-clock `[start, end]` times
 * on one machine. It verifies the two data promises of the replication design (design/replication.md):
 *
 * 1. No resurrection: no read returns a value whose deletion was acknowledged, i.e. a delete that ENDED before the
 *    read STARTED and that STARTED after the value's write ENDED. (Every written value is unique, so no later write
 *    can store the same value again.)
 * 2. No going back: no read returns value v if an acknowledged write w2 of the same key started after v's write
 *    ended and ended before the read started.
 *
 * And the basic one: a read returns a value that some write of that key produced, and that write started before the
 * read ended.
 *
 * Read-modify-write operations (`incr`, `append`) are recorded as *refreshes*: another write of the value id they
 * extend (a counter's incarnation, an append list's base), so that a value left by one that overlapped a delete is
 * judged like the later of two concurrent sets. A read of value v is then checked against v's latest acknowledged
 * write (if that one is not superseded, v is legitimate).
 *
 * Writes that failed are "maybe" writes: they may take effect or not, at any time after they started (a request that
 * timed out on a paused server is still applied when the server resumes), so they constrain nothing. Deletes that
 * failed are ignored (removing a value can never make a read wrong). Misses and failed reads are always allowed: a
 * cache may lose anything at any time.
 *
 * Intervals compare strictly, so operations within the same millisecond count as concurrent: with `Date.now()`
 * resolution the checker can miss a violation by a millisecond but never reports a false one.
 *
 * Cost: O(n log n) per key (acknowledged mutations sorted by end, with a running maximum of their start times).
 */

/** One recorded operation. */
export interface HistoryOp {
  /** Which client (process) issued it: for reports only. */
  proc: string;
  kind: "set" | "delete" | "get";
  key: string;
  /** Wall-clock ms when the call was issued. */
  start: number;
  /** Wall-clock ms when its promise settled. */
  end: number;
  /** set/delete: `"ok"` (acknowledged) or `"error"`; get: `"hit"`, `"miss"` or `"error"`. */
  outcome: "ok" | "error" | "hit" | "miss";
  /** set: the value written (unique per history, unless `refresh`); get hit: the value read. */
  value?: string | undefined;
  /** set: a read-modify-write of an existing value id (`incr` of a counter, `append` to a list), not a new value. */
  refresh?: boolean | undefined;
}

export type ViolationKind =
  /** Promise 1: the read returned a value whose deletion was acknowledged before the read started. */
  | "resurrection"
  /** Promise 2: the read returned a value replaced by an acknowledged write that ended before the read started. */
  | "stale"
  /** The value was never written (to any key). */
  | "phantom"
  /** The value was written to another key. */
  | "wrong-key"
  /** The value's write started after the read ended. */
  | "future";

export interface Violation {
  kind: ViolationKind;
  read: HistoryOp;
  /** The write that produced the value read, when there is one. */
  write: HistoryOp | undefined;
  /** The acknowledged delete or write that the read should have observed. */
  witness: HistoryOp | undefined;
  message: string;
}

export interface CheckResult {
  ops: number;
  reads: number;
  hits: number;
  misses: number;
  readErrors: number;
  sets: number;
  setErrors: number;
  deletes: number;
  deleteErrors: number;
  keys: number;
  violations: Violation[];
  /** Violations per kind. */
  byKind: Record<ViolationKind, number>;
}

interface KeyHistory {
  /** value -> the writes that produced it (one, unless refreshed). */
  writes: Map<string, HistoryOp[]>;
  /** Acknowledged sets and deletes. */
  acked: HistoryOp[];
  reads: HistoryOp[];
}

/** Acknowledged mutations of one key sorted by `end`, with running maxima of `start` (per kind). */
interface MutationIndex {
  ends: number[];
  maxDeleteStart: number[];
  maxDeleteAt: number[];
  maxSetStart: number[];
  maxSetAt: number[];
  ops: HistoryOp[];
}

function buildIndex(acked: HistoryOp[]): MutationIndex {
  const ops = [...acked].sort((a, b) => a.end - b.end);
  const idx: MutationIndex = {
    ends: [],
    maxDeleteStart: [],
    maxDeleteAt: [],
    maxSetStart: [],
    maxSetAt: [],
    ops,
  };
  let ds = Number.NEGATIVE_INFINITY;
  let da = -1;
  let ss = Number.NEGATIVE_INFINITY;
  let sa = -1;
  ops.forEach((op, i) => {
    if (op.kind === "delete" && op.start > ds) {
      ds = op.start;
      da = i;
    } else if (op.kind === "set" && op.start > ss) {
      ss = op.start;
      sa = i;
    }
    idx.ends.push(op.end);
    idx.maxDeleteStart.push(ds);
    idx.maxDeleteAt.push(da);
    idx.maxSetStart.push(ss);
    idx.maxSetAt.push(sa);
  });
  return idx;
}

/** Index of the last mutation with `end < t`, or -1. */
function lastEndingBefore(ends: readonly number[], t: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export function describeOp(op: HistoryOp | undefined): string {
  if (op === undefined) return "(none)";
  const v = op.value === undefined ? "" : ` ${JSON.stringify(op.value)}`;
  return `${op.proc} ${op.kind} ${op.key}${v} [${op.start}, ${op.end}] ${op.outcome}`;
}

/** Checks a history; see the module comment for the rules. */
export function checkHistory(history: Iterable<HistoryOp>): CheckResult {
  const result: CheckResult = {
    ops: 0,
    reads: 0,
    hits: 0,
    misses: 0,
    readErrors: 0,
    sets: 0,
    setErrors: 0,
    deletes: 0,
    deleteErrors: 0,
    keys: 0,
    violations: [],
    byKind: { resurrection: 0, stale: 0, phantom: 0, "wrong-key": 0, future: 0 },
  };
  const keys = new Map<string, KeyHistory>();
  const valueKey = new Map<string, string>();
  const originals = new Set<string>();
  for (const op of history) {
    result.ops++;
    let kh = keys.get(op.key);
    if (kh === undefined) {
      kh = { writes: new Map(), acked: [], reads: [] };
      keys.set(op.key, kh);
    }
    if (op.kind === "get") {
      result.reads++;
      if (op.outcome === "hit") {
        result.hits++;
        kh.reads.push(op);
      } else if (op.outcome === "miss") result.misses++;
      else result.readErrors++;
    } else if (op.kind === "set") {
      result.sets++;
      if (op.outcome !== "ok") result.setErrors++;
      if (op.value === undefined) throw new TypeError(`set without a value: ${describeOp(op)}`);
      const earlier = kh.writes.get(op.value);
      if (!op.refresh) {
        // Only the original write of a value is unique; refreshes may come before it in the merged history.
        if (originals.has(op.value)) throw new TypeError(`value written twice: ${describeOp(op)}`);
        originals.add(op.value);
      }
      valueKey.set(op.value, op.key);
      if (earlier === undefined) kh.writes.set(op.value, [op]);
      else earlier.push(op);
      if (op.outcome === "ok") kh.acked.push(op);
    } else {
      result.deletes++;
      if (op.outcome === "ok") kh.acked.push(op);
      else result.deleteErrors++;
    }
  }
  result.keys = keys.size;

  const flag = (
    kind: ViolationKind,
    read: HistoryOp,
    write: HistoryOp | undefined,
    witness: HistoryOp | undefined,
  ) => {
    result.byKind[kind]++;
    const why: Record<ViolationKind, string> = {
      resurrection: "returned a value whose deletion was acknowledged before the read started",
      stale: "returned a value replaced by an acknowledged write that ended before the read started",
      phantom: "returned a value nobody wrote",
      "wrong-key": "returned a value written to another key",
      future: "returned a value whose write started after the read ended",
    };
    result.violations.push({
      kind,
      read,
      write,
      witness,
      message: `${kind}: read ${describeOp(read)} ${why[kind]}; write: ${describeOp(write)}; witness: ${describeOp(witness)}`,
    });
  };

  for (const kh of keys.values()) {
    if (kh.reads.length === 0) continue;
    const idx = buildIndex(kh.acked);
    for (const read of kh.reads) {
      const value = read.value ?? "";
      const writes = kh.writes.get(value);
      if (writes === undefined) {
        flag(valueKey.has(value) ? "wrong-key" : "phantom", read, undefined, undefined);
        continue;
      }
      const started = writes.filter((w) => w.start <= read.end);
      if (started.length === 0) {
        flag("future", read, writes[0], undefined);
        continue;
      }
      // A maybe-write may take effect at any time after it started: nothing can have superseded it for sure.
      if (started.some((w) => w.outcome !== "ok")) continue;
      // The latest-ending write of v: if anything superseded an earlier one, it superseded this one only if it
      // started after this one ended (and writes of v itself never supersede v).
      let write = started[0]!;
      for (const w of started) if (w.end > write.end) write = w;
      const j = lastEndingBefore(idx.ends, read.start);
      if (j < 0) continue;
      if (idx.maxDeleteStart[j]! > write.end) {
        flag("resurrection", read, write, idx.ops[idx.maxDeleteAt[j]!]);
      } else if (idx.maxSetStart[j]! > write.end) {
        flag("stale", read, write, idx.ops[idx.maxSetAt[j]!]);
      }
    }
  }
  return result;
}

/**
 * The operations on `violation`'s key that overlap `[from the write's start, to the read's end]`, sorted by start:
 * a minimal history to reason about (plus the `margin` ms around it).
 */
export function excerpt(history: Iterable<HistoryOp>, violation: Violation, margin = 5): HistoryOp[] {
  const from = (violation.write?.start ?? violation.read.start) - margin;
  const to = violation.read.end + margin;
  const out: HistoryOp[] = [];
  for (const op of history) {
    if (op.key === violation.read.key && op.end >= from && op.start <= to) out.push(op);
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}
