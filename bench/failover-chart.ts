/**
 * Hand-written SVG for the failover benchmark (no dependencies): database loads per second as bars, the cache hit
 * ratio per second as a line on the right axis, and the rolling restart's steps as labelled vertical markers.
 */

export interface ChartSecond {
  /** Seconds since the run started. */
  t: number;
  loads: number;
  fetches: number;
}

export interface ChartMark {
  /** Seconds since the run started. */
  t: number;
  label: string;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  seconds: ChartSecond[];
  marks: ChartMark[];
}

const W = 960;
const H = 360;
const M = { left: 60, right: 60, top: 56, bottom: 44 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

export function renderChart(input: ChartInput): string {
  const { seconds, marks } = input;
  const span = Math.max(1, ...seconds.map((s) => s.t + 1), ...marks.map((m) => m.t));
  const maxLoads = niceMax(Math.max(0, ...seconds.map((s) => s.loads)));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (t: number) => M.left + (t / span) * pw;
  const yLoads = (v: number) => M.top + ph - (v / maxLoads) * ph;
  const yRatio = (r: number) => M.top + ph - r * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${M.left}" y="20" font-size="14" font-weight="bold">${esc(input.title)}</text>`,
    `<text x="${M.left}" y="38" fill="#555">${esc(input.subtitle)}</text>`,
  );
  // Grid and left axis (DB loads per second).
  for (let i = 0; i <= 4; i++) {
    const v = (maxLoads * i) / 4;
    const y = yLoads(v);
    out.push(
      `<line x1="${M.left}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${y + 4}" text-anchor="end" fill="#b33">${Number.isInteger(v) ? v : v.toFixed(1)}</text>`,
      `<text x="${W - M.right + 6}" y="${yRatio(i / 4) + 4}" fill="#247">${i * 25}%</text>`,
    );
  }
  out.push(
    `<text transform="translate(16 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#b33">DB loads / s</text>`,
    `<text transform="translate(${W - 14} ${M.top + ph / 2}) rotate(90)" text-anchor="middle" fill="#247">cache hit ratio</text>`,
  );
  // Time axis.
  const step = span > 120 ? 20 : span > 60 ? 10 : 5;
  for (let t = 0; t <= span; t += step) {
    out.push(
      `<line x1="${x(t)}" y1="${M.top + ph}" x2="${x(t)}" y2="${M.top + ph + 4}" stroke="#333"/>`,
      `<text x="${x(t)}" y="${M.top + ph + 16}" text-anchor="middle">${t}s</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${W - M.right}" y2="${M.top + ph}" stroke="#333"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle" fill="#555">time since the run started</text>`,
  );
  // Markers of the rolling restart.
  marks.forEach((m, i) => {
    const xm = x(m.t);
    out.push(
      `<line x1="${xm}" y1="${M.top}" x2="${xm}" y2="${M.top + ph}" stroke="#999" stroke-dasharray="3 3"/>`,
      `<text x="${xm + 2}" y="${M.top + 10 + (i % 4) * 11}" fill="#666" font-size="9">${esc(m.label)}</text>`,
    );
  });
  // Bars: DB loads per second.
  const bw = Math.max(1, pw / span - 1);
  for (const s of seconds) {
    if (s.loads <= 0) continue;
    const y = yLoads(Math.min(s.loads, maxLoads));
    out.push(
      `<rect x="${x(s.t)}" y="${y}" width="${bw}" height="${M.top + ph - y}" fill="#d55"><title>${s.t}s: ${s.loads} DB loads</title></rect>`,
    );
  }
  // Line: hit ratio per second.
  const pts = seconds
    .filter((s) => s.fetches > 0)
    .map((s) => `${(x(s.t) + bw / 2).toFixed(1)},${yRatio(Math.max(0, 1 - s.loads / s.fetches)).toFixed(1)}`);
  if (pts.length > 0)
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="#247" stroke-width="1.5"/>`);
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
