/**
 * Hand-written SVG for `npm run bench` (no dependencies): one panel per workload, one horizontal bar per client
 * (ops/s), grouped by the servers it ran on, labelled with its ratio to the fastest peer on the same servers and its
 * p99. Written next to the JSON in bench-results/.
 */
import { CLIENTS, clientLabel } from "./config.js";
import { fastestPeer, isBroken, ms, replicationCost, type WorkloadReport } from "./report.js";

const W = 980;
const LABEL_W = 250;
const BAR_H = 16;
const GAP = 4;
const PANEL_PAD = 46;
const GROUP_PAD = 16;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function color(id: keyof typeof CLIENTS): string {
  const spec = CLIENTS[id];
  if (spec.library !== "mcpair") return "#a0a0a0";
  return spec.replicas === 2 ? "#1f5fa8" : "#3a9a5b";
}

export function renderBenchChart(
  reports: readonly WorkloadReport[],
  title: string,
  subtitle: string,
): string {
  const body: string[] = [];
  let y = 56;
  const barMaxW = W - LABEL_W - 250;
  for (const report of reports) {
    const rows = report.rows;
    const max = Math.max(1, ...rows.map((r) => r.opsPerSec));
    body.push(`<text x="12" y="${y + 16}" font-size="13" font-weight="bold">${esc(report.title)}</text>`);
    const cost = replicationCost(report);
    if (cost) {
      body.push(
        `<text x="12" y="${y + 32}" fill="#555">replicas:2 ÷ replicas:1 on the same three servers: ${cost.ratio.toFixed(2)} (request bound ${cost.bound.toFixed(2)})</text>`,
      );
    }
    y += PANEL_PAD;
    for (const servers of [1, 3] as const) {
      const group = rows.filter((r) => CLIENTS[r.client].servers === servers);
      if (group.length === 0) continue;
      const peer = fastestPeer(rows, servers);
      body.push(
        `<text x="12" y="${y + 10}" fill="#777" font-style="italic">${servers === 1 ? "one server" : "three servers"}</text>`,
      );
      y += GROUP_PAD;
      for (const row of group) {
        const w = Math.max(1, (row.opsPerSec / max) * barMaxW);
        const ratio = peer && row.opsPerSec > 0 ? ` · ${(row.opsPerSec / peer.opsPerSec).toFixed(2)}x` : "";
        const text = isBroken(row)
          ? "failed"
          : `${Math.round(row.opsPerSec).toLocaleString("en-US")} ops/s${ratio} · p99 ${ms(row.p99)} ms`;
        body.push(
          `<text x="${LABEL_W - 8}" y="${y + BAR_H - 4}" text-anchor="end">${esc(clientLabel(row.client))}</text>`,
          `<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color(row.client)}"><title>${esc(text)}</title></rect>`,
          `<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR_H - 4}" fill="#333">${esc(text)}</text>`,
        );
        y += BAR_H + GAP;
      }
    }
    y += 14;
  }
  const h = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle)}</text>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}
