/**
 * Browser-side chart helper shared by the live dashboard and the static demo report: a uPlot chart with the
 * scenario's phases shaded and its events (drain, kill, restart...) drawn as labelled vertical lines.
 *
 *   mcChart(element, {
 *     title, height, time,            // time: x values are epoch seconds (dashboard) or seconds since start (report)
 *     series: [{ label, stroke, scale, fill }],
 *     scales: { y: { range: [0, 100], label } },
 *     data: [xs, ys1, ys2],
 *     phases: [{ from, to, label }],  // shaded bands
 *     marks: [{ t, label }],          // vertical lines
 *   })
 *
 * It is plain JavaScript (it runs in the page) kept in a TypeScript string so both pages embed the same code.
 */
export const CHART_SCRIPT = `
function mcChart(el, cfg) {
  var marks = cfg.marks || [];
  var phases = cfg.phases || [];
  var shades = ["rgba(99,132,255,0.08)", "rgba(255,159,64,0.10)", "rgba(75,192,92,0.10)", "rgba(200,80,200,0.08)"];
  function draw(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height, dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.font = (11 * dpr) + "px sans-serif";
    phases.forEach(function (p, i) {
      var x0 = u.valToPos(p.from, "x", true), x1 = u.valToPos(p.to, "x", true);
      ctx.fillStyle = shades[i % shades.length];
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
      ctx.fillStyle = "#555";
      // Short phases sit side by side: alternate their labels between two rows.
      ctx.fillText(p.label, Math.max(x0, u.bbox.left) + 4 * dpr, top + (12 + (i % 2) * 13) * dpr);
    });
    ctx.setLineDash([4 * dpr, 3 * dpr]);
    ctx.strokeStyle = "#999";
    ctx.fillStyle = "#333";
    // Marks come in quick succession: their labels go on three staggered rows along the bottom.
    marks.forEach(function (m, i) {
      var x = u.valToPos(m.t, "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillText(m.label, x + 3 * dpr, top + height - (4 + (i % 3) * 13) * dpr);
    });
    ctx.restore();
  }
  var series = [{}].concat(cfg.series.map(function (s) {
    return { label: s.label, stroke: s.stroke, width: 1.5, scale: s.scale || "y", fill: s.fill, points: { show: false },
      value: s.value };
  }));
  var axes = [{}];
  var scales = Object.assign({ x: cfg.time === false
    ? { time: false, range: function (u, min, max) { return [0, max]; } }
    : { time: true } }, cfg.scales || {});
  Object.keys(cfg.scales || { y: 1 }).forEach(function (name, i) {
    var s = (cfg.scales || {})[name] || {};
    axes.push({ scale: name, label: s.label, side: i === 0 ? 3 : 1, grid: { show: i === 0 } });
  });
  if (cfg.time === false) axes[0] = { label: "seconds" };
  var opts = {
    title: cfg.title,
    width: Math.max(320, el.clientWidth || 800),
    height: cfg.height || 240,
    scales: scales,
    series: series,
    axes: axes,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    hooks: { draw: [draw] },
  };
  var chart = new uPlot(opts, cfg.data, el);
  chart.mcMarks = marks;
  chart.mcPhases = phases;
  window.addEventListener("resize", function () { chart.setSize({ width: Math.max(320, el.clientWidth), height: opts.height }); });
  return chart;
}
`;
