// Small SVG charts drawn in the browser: vertical bars, horizontal bars, lines and a donut.
// Our own few lines instead of a charting library: nothing to vendor or license, nothing fetched,
// and charts look the same in Chinese and English. Each value also has a <title> tooltip.
"use strict";

window.FTCharts = (function () {
  const SVG_NS = "http://www.w3.org/2000/svg"; // an XML namespace name, not an address that is fetched
  const PALETTE = ["#2f6fb3", "#e07b39", "#3a9e6a", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"];

  function s(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function tip(node, text) {
    node.appendChild(s("title", {}, text));
    return node;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  function frame(container, width, height, label) {
    const svg = s("svg", {
      viewBox: "0 0 " + width + " " + height, width: "100%", role: "img", "aria-label": label || "",
      class: "ft-chart", preserveAspectRatio: "xMidYMid meet",
    });
    container.replaceChildren(svg);
    return svg;
  }
  function short(text, n) {
    text = String(text);
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }
  function yAxis(svg, max, left, top, plotW, plotH, format) {
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const y = top + plotH - (plotH * i) / 4;
      svg.appendChild(s("line", { x1: left, x2: left + plotW, y1: y, y2: y, class: "grid" }));
      svg.appendChild(s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, format(v, true)));
    }
  }

  // Vertical bars: {labels, values, format, label}
  function bar(container, opts) {
    const W = 640, H = 260, left = 72, right = 8, top = 10, bottom = 30;
    const plotW = W - left - right, plotH = H - top - bottom;
    const svg = frame(container, W, H, opts.label);
    const format = opts.format || String;
    const max = niceMax(Math.max.apply(null, opts.values.concat([0])));
    yAxis(svg, max, left, top, plotW, plotH, format);
    const n = opts.values.length || 1;
    const step = plotW / n;
    const every = Math.ceil(n / 12);
    opts.values.forEach(function (v, i) {
      const h = (plotH * Math.max(v, 0)) / max;
      const x = left + i * step + step * 0.15;
      svg.appendChild(tip(s("rect", {
        x: x, y: top + plotH - h, width: step * 0.7, height: h, fill: opts.color || PALETTE[0], class: "bar",
      }), opts.labels[i] + ": " + format(v)));
      if (i % every === 0) {
        svg.appendChild(s("text", { x: x + step * 0.35, y: H - 10, "text-anchor": "middle", class: "axis" },
          short(opts.labels[i], 10)));
      }
    });
    return svg;
  }

  // Horizontal bars, one row per label: {labels, values, format, label}
  function hbar(container, opts) {
    const rowH = 28, left = 150, right = 110, W = 640;
    const n = opts.values.length;
    const H = Math.max(1, n) * rowH + 8;
    const svg = frame(container, W, H, opts.label);
    const format = opts.format || String;
    const max = Math.max.apply(null, opts.values.concat([0])) || 1;
    const plotW = W - left - right;
    opts.values.forEach(function (v, i) {
      const y = 4 + i * rowH;
      const w = (plotW * Math.max(v, 0)) / max;
      svg.appendChild(s("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "axis" },
        short(opts.labels[i], 18)));
      svg.appendChild(tip(s("rect", {
        x: left, y: y + 4, width: Math.max(w, v > 0 ? 1 : 0), height: rowH - 8,
        fill: PALETTE[i % PALETTE.length], class: "bar",
      }), opts.labels[i] + ": " + format(v)));
      svg.appendChild(s("text", { x: left + w + 6, y: y + rowH / 2 + 4, class: "value" }, format(v)));
    });
    return svg;
  }

  // Lines over shared labels: {labels, series: [{name, values}], format, label}
  function line(container, opts) {
    const W = 640, H = 260, left = 72, right = 8, top = 10, bottom = 46;
    const plotW = W - left - right, plotH = H - top - bottom;
    const svg = frame(container, W, H, opts.label);
    const format = opts.format || String;
    const all = [0];
    opts.series.forEach(function (se) { all.push.apply(all, se.values); });
    const max = niceMax(Math.max.apply(null, all));
    yAxis(svg, max, left, top, plotW, plotH, format);
    const n = opts.labels.length;
    const x = function (i) { return left + (n <= 1 ? plotW / 2 : (plotW * i) / (n - 1)); };
    const y = function (v) { return top + plotH - (plotH * Math.max(v, 0)) / max; };
    const every = Math.ceil(n / 10);
    opts.labels.forEach(function (lab, i) {
      if (i % every === 0) {
        svg.appendChild(s("text", { x: x(i), y: top + plotH + 16, "text-anchor": "middle", class: "axis" },
          short(lab, 10)));
      }
    });
    opts.series.forEach(function (se, k) {
      const color = PALETTE[k % PALETTE.length];
      const pts = se.values.map(function (v, i) { return x(i) + "," + y(v); }).join(" ");
      svg.appendChild(s("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2 }));
      se.values.forEach(function (v, i) {
        svg.appendChild(tip(s("circle", { cx: x(i), cy: y(v), r: 3, fill: color }),
          se.name + " · " + opts.labels[i] + ": " + format(v)));
      });
      svg.appendChild(s("rect", { x: left + k * 150, y: H - 16, width: 10, height: 10, fill: color }));
      svg.appendChild(s("text", { x: left + k * 150 + 14, y: H - 7, class: "axis" }, short(se.name, 18)));
    });
    return svg;
  }

  // Shares of a whole: {labels, values, format, label}
  function donut(container, opts) {
    const W = 640, H = 240, cx = 120, cy = 120, r = 100, inner = 58;
    const svg = frame(container, W, H, opts.label);
    const format = opts.format || String;
    const total = opts.values.reduce(function (a, b) { return a + Math.max(b, 0); }, 0);
    let angle = -Math.PI / 2;
    opts.values.forEach(function (v, i) {
      const color = PALETTE[i % PALETTE.length];
      const share = total > 0 ? Math.max(v, 0) / total : 0;
      const pct = (share * 100).toFixed(1) + "%";
      if (share > 0) {
        const a2 = angle + share * 2 * Math.PI - (share >= 1 ? 1e-6 : 0);
        const large = a2 - angle > Math.PI ? 1 : 0;
        const p = function (rad, a) { return (cx + rad * Math.cos(a)) + " " + (cy + rad * Math.sin(a)); };
        const d = "M " + p(r, angle) + " A " + r + " " + r + " 0 " + large + " 1 " + p(r, a2) +
          " L " + p(inner, a2) + " A " + inner + " " + inner + " 0 " + large + " 0 " + p(inner, angle) + " Z";
        svg.appendChild(tip(s("path", { d: d, fill: color, class: "slice" }),
          opts.labels[i] + ": " + format(v) + " (" + pct + ")"));
        angle = a2;
      }
      const ly = 20 + i * 24;
      if (ly < H - 8) {
        svg.appendChild(s("rect", { x: 260, y: ly - 10, width: 12, height: 12, fill: color }));
        svg.appendChild(s("text", { x: 278, y: ly, class: "axis" },
          short(opts.labels[i], 20) + "  " + format(v) + "  " + pct));
      }
    });
    if (total === 0) svg.appendChild(s("circle", { cx: cx, cy: cy, r: r, fill: "none", class: "grid" }));
    return svg;
  }

  return { bar: bar, hbar: hbar, line: line, donut: donut, palette: PALETTE };
})();
