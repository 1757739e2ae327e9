/* driftchart.js: a tiny dependency-free SVG line chart for settlement drift over time.
 *
 * Reads the JSON written by Django's json_script: {series: {label: [{date, pk,
 * settlement, internal, journal, deposit, reserve}, ...]}, reconciliation_url}
 * and draws one line per marketplace for the chosen measure. Points link to the
 * settlement's reconciliation page. Served as a static file: no CDN.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function niceStep(range) {
    if (range <= 0) { return 1; }
    var raw = range / 5, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var n = raw / mag;
    return (n >= 5 ? 10 : n >= 2 ? 5 : n >= 1 ? 2 : 1) * mag;
  }

  function draw(container, data, measure) {
    container.innerHTML = "";
    var labels = Object.keys(data.series);
    var W = 960, H = 360, m = {l: 70, r: 20, t: 20, b: 40};
    var points = [];
    labels.forEach(function (label) {
      data.series[label].forEach(function (p) {
        points.push({t: Date.parse(p.date), v: parseFloat(p[measure]) || 0});
      });
    });
    if (!points.length) { container.textContent = "No data."; return; }
    var t0 = Math.min.apply(null, points.map(function (p) { return p.t; }));
    var t1 = Math.max.apply(null, points.map(function (p) { return p.t; }));
    var v0 = Math.min(0, Math.min.apply(null, points.map(function (p) { return p.v; })));
    var v1 = Math.max(0, Math.max.apply(null, points.map(function (p) { return p.v; })));
    if (t1 === t0) { t0 -= 86400000; t1 += 86400000; }
    if (v1 === v0) { v0 -= 1; v1 += 1; }
    var x = function (t) { return m.l + (t - t0) / (t1 - t0) * (W - m.l - m.r); };
    var y = function (v) { return H - m.b - (v - v0) / (v1 - v0) * (H - m.t - m.b); };
    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, role: "img",
                         "aria-label": "Settlement " + measure + " drift over time"}, container);
    var step = niceStep(v1 - v0);
    for (var g = Math.ceil(v0 / step) * step; g <= v1 + 1e-9; g += step) {
      el("line", {x1: m.l, x2: W - m.r, y1: y(g), y2: y(g), "class": "grid"}, svg);
      var tl = el("text", {x: m.l - 6, y: y(g) + 4, "text-anchor": "end"}, svg);
      tl.textContent = g.toFixed(2);
    }
    el("line", {x1: m.l, x2: W - m.r, y1: y(0), y2: y(0), "class": "axis"}, svg);
    el("line", {x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, "class": "axis"}, svg);
    for (var i = 0; i <= 5; i++) {
      var t = t0 + (t1 - t0) * i / 5;
      var xl = el("text", {x: x(t), y: H - m.b + 16, "text-anchor": "middle"}, svg);
      xl.textContent = new Date(t).toISOString().slice(0, 10);
    }
    var legend = document.createElement("div");
    legend.className = "legend";
    labels.forEach(function (label, idx) {
      var color = COLORS[idx % COLORS.length];
      var series = data.series[label];
      var d = series.map(function (p, j) {
        return (j ? "L" : "M") + x(Date.parse(p.date)).toFixed(1) + "," +
          y(parseFloat(p[measure]) || 0).toFixed(1);
      }).join(" ");
      el("path", {d: d, fill: "none", stroke: color, "stroke-width": 2}, svg);
      series.forEach(function (p) {
        var a = el("a", {href: data.reconciliation_url.replace("{pk}", p.pk)}, svg);
        var c = el("circle", {cx: x(Date.parse(p.date)), cy: y(parseFloat(p[measure]) || 0),
                              r: 4, fill: color}, a);
        var title = el("title", {}, c);
        title.textContent = label + " · " + p.settlement + " · " + p.date + " · " +
          measure + " drift " + p[measure];
      });
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      legend.appendChild(item);
    });
    container.appendChild(legend);
  }

  function init() {
    document.querySelectorAll(".drift-chart").forEach(function (container) {
      var source = document.getElementById(container.dataset.source);
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      var select = document.getElementById(container.dataset.measureSelect);
      var render = function () { draw(container, data, select ? select.value : "internal"); };
      if (select) { select.addEventListener("change", render); }
      render();
    });
  }

  window.DriftChart = {draw: draw};
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
