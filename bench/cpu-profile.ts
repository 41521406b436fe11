/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`) by self time per function, with positions in the built
 * `dist/` files mapped back to `packages/<name>/src/<file>.ts:<line>` through their source maps.
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  functionName: string;
  /** `path:line` (1-based), relative to the repository root, mapped to TypeScript source when possible. */
  location: string;
  selfMs: number;
  share: number;
}

export function summarizeProfile(
  file: string,
  root: string,
): { totalMs: number; rows: SelfTimeRow[]; byCategory: Record<string, number> } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time since the previous sample; it is attributed to the sample it ends at.
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const maps = new Map<string, SourceMap | null>();
  const rows = new Map<string, SelfTimeRow>();
  const byCategory: Record<string, number> = {};
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const location = locate(url, lineNumber, columnNumber, root, maps);
    const category = categorize(url, functionName, location);
    byCategory[category] = (byCategory[category] ?? 0) + us / 1000;
    const name = functionName || "(anonymous)";
    const key = `${name}@${location}`;
    const row = rows.get(key) ?? { functionName: name, location, selfMs: 0, share: 0 };
    row.selfMs += us / 1000;
    rows.set(key, row);
  }
  const totalMs = totalUs / 1000;
  const sorted = [...rows.values()].sort((a, b) => b.selfMs - a.selfMs);
  for (const row of sorted) row.share = totalMs > 0 ? row.selfMs / totalMs : 0;
  return { totalMs, rows: sorted, byCategory };
}

function locate(
  url: string,
  line: number,
  column: number,
  root: string,
  maps: Map<string, SourceMap | null>,
): string {
  if (!url) return "(native)";
  if (!url.startsWith("file://")) return `${url}:${line + 1}`;
  const path = fileURLToPath(url);
  let map = maps.get(path);
  if (map === undefined) {
    map = null;
    const mapFile = `${path}.map`;
    if (path.includes("/packages/") && existsSync(mapFile)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, "utf8")));
      } catch {
        map = null;
      }
    }
    maps.set(path, map);
  }
  if (map) {
    const entry = map.findEntry(line, column) as { originalSource?: string; originalLine?: number };
    if (entry.originalSource && entry.originalLine !== undefined) {
      const source = entry.originalSource.startsWith("file://")
        ? fileURLToPath(entry.originalSource)
        : resolve(dirname(path), entry.originalSource);
      return `${relative(root, source)}:${entry.originalLine + 1}`;
    }
  }
  return `${relative(root, path)}:${line + 1}`;
}

function categorize(url: string, functionName: string, location: string): string {
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(idle)" || functionName === "(program)") return functionName.slice(1, -1);
  if (location.startsWith("packages/core/")) return "@mcpair/core";
  if (location.startsWith("packages/memcached/")) return "@mcpair/memcached";
  if (location.startsWith("bench/")) return "bench harness";
  if (url.startsWith("node:") || url === "") return "node internals / native";
  return "other";
}
