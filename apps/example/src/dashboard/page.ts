import { CHART_SCRIPT } from "../charts.js";

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Shared by the dashboard and the demo report. */
export const PAGE_STYLE = `
  body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
  h1 { font-size: 20px; margin: 0 0 4px; } .sub { color: #666; margin: 0 0 16px; }
  table { border-collapse: collapse; margin: 8px 0 16px; } th, td { padding: 5px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
  th:first-child, td:first-child, td.l, th.l { text-align: left; }
  .badge { display: inline-block; min-width: 84px; padding: 2px 8px; border-radius: 10px; font-weight: 600; text-align: center; }
  .up { background: #d7f5dd; color: #17692a; } .draining { background: #fff0c2; color: #7a5b00; }
  .down, .probing { background: #fbd5d5; color: #8a1c1c; } .recovering { background: #dde7ff; color: #23408e; }
  .rewarming { background: #e8dcff; color: #4b2a8c; }
  .kpis { display: flex; gap: 12px; flex-wrap: wrap; margin: 8px 0 16px; }
  .kpi { border: 1px solid #e3e3e3; border-radius: 8px; padding: 8px 14px; min-width: 130px; }
  .kpi b { display: block; font-size: 22px; } .kpi span { color: #666; font-size: 12px; }
  button { margin: 0 2px; padding: 3px 9px; border: 1px solid #bbb; border-radius: 5px; background: #fafafa; cursor: pointer; }
  button:hover { background: #eee; } .chart { margin: 8px 0 20px; }
  #log { font: 12px/1.4 ui-monospace, monospace; color: #444; max-height: 180px; overflow: auto; padding-left: 0; list-style: none; }
`;

/** The live dashboard: a static page that fills itself from `/dashboard/events`. */
export function dashboardPage(o: { backend: string; replicas: number }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcpair bookshop: live</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uplot.css">
<style>${PAGE_STYLE}</style></head>
<body>
<h1>mcpair bookshop: live</h1>
<p class="sub">${escapeHtml(o.backend)} · replicas: ${o.replicas} · <span id="conn">connecting…</span></p>
<div class="kpis">
  <div class="kpi"><b id="req-rate" data-testid="req-rate">-</b><span>requests/s</span></div>
  <div class="kpi"><b id="db-rate" data-testid="db-rate">-</b><span>database queries/s</span></div>
  <div class="kpi"><b id="hit-ratio" data-testid="hit-ratio">-</b><span>cache hit ratio</span></div>
  <div class="kpi"><b id="replica-rate" data-testid="replica-rate">-</b><span>reads/s from a 2nd replica</span></div>
  <div class="kpi"><b id="copy-rate" data-testid="copy-rate">-</b><span>copies/s written back or rewarmed</span></div>
</div>
<table id="servers"><thead><tr><th>server</th><th class="l">address</th><th class="l">state</th><th>items</th><th>hit ratio</th><th>last rewarm</th><th class="l">actions</th></tr></thead><tbody></tbody></table>
<div id="db-chart" class="chart"></div>
<div id="hit-chart" class="chart"></div>
<h3>Events</h3><ol id="log" reversed></ol>
<script src="/dashboard/uplot.js"></script>
<script>
${CHART_SCRIPT}
var WINDOW = 120; // seconds shown
var data = { t: [], db: [], reads: [], hit: [] };
var marks = [];
var dbChart, hitChart;
function push(s) {
  data.t.push(s.t / 1000); data.db.push(s.dbQueries); data.reads.push(s.reads);
  data.hit.push(s.hitRatio === null ? null : Math.round(s.hitRatio * 10000) / 100);
  if (data.t.length > WINDOW) { data.t.shift(); data.db.shift(); data.reads.shift(); data.hit.shift(); }
  document.getElementById("req-rate").textContent = s.requests;
  document.getElementById("db-rate").textContent = s.dbQueries;
  document.getElementById("hit-ratio").textContent = s.hitRatio === null ? "-" : (s.hitRatio * 100).toFixed(2) + "%";
  document.getElementById("replica-rate").textContent = s.replicaReads;
  document.getElementById("copy-rate").textContent = s.copies;
}
function redraw() {
  if (!dbChart) {
    dbChart = mcChart(document.getElementById("db-chart"), { title: "Database queries per second", height: 220,
      series: [{ label: "DB queries/s", stroke: "#d9480f", fill: "rgba(217,72,15,0.12)" }, { label: "book reads/s", stroke: "#868e96" }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(10, max)]; } } },
      data: [data.t, data.db, data.reads], marks: marks });
    hitChart = mcChart(document.getElementById("hit-chart"), { title: "Cache hit ratio (%)", height: 180,
      series: [{ label: "hit ratio %", stroke: "#2b8a3e" }],
      scales: { y: { range: [0, 100] } }, data: [data.t, data.hit], marks: marks });
  } else {
    dbChart.setData([data.t, data.db, data.reads]);
    hitChart.setData([data.t, data.hit]);
  }
}
function pct(v) { return v === null || v === undefined ? "-" : (v * 100).toFixed(1) + "%"; }
function renderServers(list) {
  var body = document.querySelector("#servers tbody");
  body.innerHTML = "";
  list.forEach(function (s) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-testid", "server-" + s.label);
    var state = s.state + (s.state === "rewarming" && s.rewarm && s.rewarm.progress !== null ? " " + Math.round(s.rewarm.progress * 100) + "%" : "");
    if (s.local && !s.running) state += " (stopped)";
    var buttons = ["drain", "kill", "restart", "rewarm"].filter(function (a) { return s.local || a === "drain" || a === "rewarm"; })
      .map(function (a) { return '<button data-testid="' + a + "-" + s.label + '" data-action="' + a + '" data-server="' + s.label + '">' + a + "</button>"; }).join("");
    var rewarm = !s.rewarm ? "-" : s.rewarm.running ? "copying…" : s.rewarm.copied.toLocaleString() + " keys copied";
    tr.innerHTML = "<td>" + s.label + '</td><td class="l">' + s.name + '</td><td class="l"><span class="badge ' + s.state +
      '" data-testid="state-' + s.label + '" data-state="' + s.state + '">' + state + "</span></td><td>" +
      (s.items === null ? "-" : s.items) + "</td><td>" + pct(s.hitRatio) + '</td><td data-testid="rewarm-' + s.label +
      '" data-copied="' + (s.rewarm && !s.rewarm.running ? s.rewarm.copied : "") + '">' + rewarm + '</td><td class="l">' + buttons + "</td>";
    body.appendChild(tr);
  });
}
function log(text, t) {
  var li = document.createElement("li");
  li.textContent = new Date((t || Date.now() / 1000) * 1000).toLocaleTimeString() + "  " + text;
  var ol = document.getElementById("log");
  ol.insertBefore(li, ol.firstChild);
  while (ol.children.length > 100) ol.removeChild(ol.lastChild);
}
document.getElementById("servers").addEventListener("click", function (e) {
  var b = e.target.closest("button");
  if (!b) return;
  b.disabled = true;
  fetch("/dashboard/servers/" + encodeURIComponent(b.dataset.server) + "/" + b.dataset.action, { method: "POST" })
    .then(function (r) { return r.json(); })
    .then(function (j) { log(j.message || j.error); })
    .catch(function (err) { log(String(err)); })
    .finally(function () { b.disabled = false; });
});
var source = new EventSource("/dashboard/events");
source.addEventListener("init", function (e) {
  var init = JSON.parse(e.data);
  data = { t: [], db: [], reads: [], hit: [] };
  marks.length = 0;
  init.marks.forEach(function (m) { marks.push(m); });
  init.history.forEach(push);
  renderServers(init.servers);
  redraw();
  document.getElementById("conn").textContent = "live";
});
source.addEventListener("sample", function (e) { push(JSON.parse(e.data)); redraw(); });
source.addEventListener("servers", function (e) { renderServers(JSON.parse(e.data)); });
source.addEventListener("mark", function (e) { var m = JSON.parse(e.data); marks.push(m); log(m.label, m.t); redraw(); });
source.addEventListener("log", function (e) { var l = JSON.parse(e.data); log(l.text, l.t); });
source.onerror = function () { document.getElementById("conn").textContent = "reconnecting…"; };
</script>
</body></html>`;
}
