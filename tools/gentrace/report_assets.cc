// The style sheet and script of `gentrace report`'s page, embedded in the
// tool so that the page needs nothing from outside (see report_assets.h).
// The script is gentrace's own renderer, with no dependency: it reads the
// JSON data of the page (report_data.h), draws the timeline (zoom with the
// wheel, pan by dragging, hover tooltips) and the flame graph (click to
// zoom) on canvases, and writes what it drew as data-* attributes of
// #render-result for tests (tests/report_test.cc).
#include "tools/gentrace/report_assets.h"

namespace gentrace::tools {
namespace {

constexpr char kCss[] = R"css(
body { font: 13px/1.4 sans-serif; margin: 12px 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; word-break: break-all; }
h2 { font-size: 15px; margin: 18px 0 4px; border-bottom: 1px solid #ccc; }
h3 { font-size: 13px; margin: 14px 0 4px; }
p.help { color: #666; margin: 2px 0; }
p.note { margin: 2px 0 6px; }
.canvas-box { width: 100%; overflow-x: hidden; border: 1px solid #ddd; }
canvas { display: block; }
#timeline-canvas { cursor: grab; }
#flame-canvas { cursor: pointer; }
#tooltip { position: fixed; display: none; pointer-events: none;
  background: #ffffe8; border: 1px solid #999; padding: 2px 6px;
  font-size: 12px; max-width: 600px; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 2px 0 8px; }
th, td { border: 1px solid #ddd; padding: 2px 8px; }
th { background: #f2f2f2; text-align: left; }
td + td { text-align: right; font-variant-numeric: tabular-nums; }
table.kv td { text-align: left; }
)css";

constexpr char kJs[] = R"js(
// gentrace report's renderer: draws the timeline and the CPU flame graph
// of the page's JSON data (tools/gentrace/report_data.h) on two canvases.
// After the first drawing it writes what it drew as data-* attributes of
// #render-result, which tests read from the page's DOM.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var S = data.strings;
  var result = document.getElementById('render-result');
  var tip = document.getElementById('tooltip');
  var span = Math.max(1, data.end_ns - data.start_ns);

  function dur(ns) {
    var a = Math.abs(ns);
    if (a >= 1e9) return (ns / 1e9).toFixed(3) + 's';
    if (a >= 1e6) return (ns / 1e6).toFixed(1) + 'ms';
    if (a >= 1e3) return (ns / 1e3).toFixed(1) + 'us';
    return Math.round(ns) + 'ns';
  }
  function hash(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }
  function sliceColor(name) {
    if (name === 'running') return '#3a9d4a';
    if (name === 'syscall') return '#e39b2d';
    if (name.lastIndexOf('blocked', 0) === 0) return '#c8505a';
    if (name === 'merged') return '#8a8a8a';
    return 'hsl(' + (hash(name) % 360) + ',50%,65%)';
  }
  // Pixels that are not transparent in the rectangle (x, y, w, h).
  function inked(canvas, x, y, w, h) {
    if (w <= 0 || h <= 0) return 0;
    var px = canvas.getContext('2d').getImageData(x, y, w, h).data;
    var n = 0;
    for (var i = 3; i < px.length; i += 4) n += px[i] !== 0;
    return n;
  }
  function showTip(ev, text) {
    tip.textContent = text;
    tip.style.display = 'block';
    tip.style.left = (ev.clientX + 12) + 'px';
    tip.style.top = (ev.clientY + 12) + 'px';
  }
  function hideTip() { tip.style.display = 'none'; }
  function width(canvas) {
    return Math.max(600, canvas.parentNode.clientWidth);
  }

  // ---- Timeline

  var GUTTER = 180, AXIS = 18, ROW = 16, LOGROW = 8, GAP = 6;
  var tl = document.getElementById('timeline-canvas');
  var rows = [];  // {track, kind, items, y, h}
  var y = AXIS;
  data.tracks.forEach(function (t) {
    var top = y;
    rows.push({track: t, kind: 'state', items: t.states, y: y, h: ROW});
    y += ROW;
    if (t.logs.length) {
      rows.push({track: t, kind: 'log', items: t.logs, y: y, h: LOGROW});
      y += LOGROW;
    }
    t.regions.forEach(function (list) {
      rows.push({track: t, kind: 'region', items: list, y: y, h: ROW});
      y += ROW;
    });
    t.top = top;
    y += GAP;
  });
  tl.width = width(tl);
  tl.height = Math.max(y, AXIS + ROW);
  var view = {t0: 0, t1: span};

  // The first item that ends at or after t (items are in time order).
  function firstEnding(items, t) {
    var lo = 0, hi = items.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (items[mid][0] + items[mid][1] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function drawTimeline() {
    var ctx = tl.getContext('2d');
    var W = tl.width;
    var scale = (W - GUTTER) / (view.t1 - view.t0);
    ctx.clearRect(0, 0, W, tl.height);
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'middle';
    // Time axis.
    var step = Math.pow(10, Math.floor(Math.log10((view.t1 - view.t0) / 5)));
    if ((view.t1 - view.t0) / step > 10) step *= 2;
    if ((view.t1 - view.t0) / step > 10) step = step / 2 * 5;
    ctx.fillStyle = '#444';
    for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      var tx = GUTTER + (t - view.t0) * scale;
      ctx.fillRect(tx, AXIS - 5, 1, 5);
      ctx.fillText(dur(t), tx + 2, AXIS / 2 - 2);
    }
    var drawn = 0;
    rows.forEach(function (row) {
      var items = row.items;
      var lastPx = -1;
      for (var i = firstEnding(items, view.t0); i < items.length; i++) {
        var it = items[i];
        if (it[0] > view.t1) break;
        var x = GUTTER + (it[0] - view.t0) * scale;
        var w = it[1] * scale;
        if (x < GUTTER) { w -= GUTTER - x; x = GUTTER; }
        if (x + w > W) w = W - x;
        var name = S[it[2]];
        if (row.kind === 'log') {
          if (Math.floor(x) === lastPx) continue;
          ctx.fillStyle = it[3] > 1 ? '#8a8a8a' : '#3366cc';
          ctx.fillRect(x, row.y, 2, row.h - 1);
        } else {
          if (w < 1) {
            if (Math.floor(x) === lastPx) continue;
            w = 1;
          }
          ctx.fillStyle = sliceColor(name);
          ctx.fillRect(x, row.y, w, row.h - 1);
          if (w > 40) {
            ctx.save();
            ctx.beginPath();
            ctx.rect(x, row.y, w, row.h);
            ctx.clip();
            ctx.fillStyle = '#000';
            ctx.fillText(it[3] > 1 ? name + ' \u00d7' + it[3] : name, x + 2,
                         row.y + row.h / 2);
            ctx.restore();
          }
        }
        lastPx = Math.floor(x);
        drawn++;
      }
    });
    // Track names in the gutter.
    ctx.clearRect(0, AXIS, GUTTER, tl.height - AXIS);
    ctx.fillStyle = '#000';
    data.tracks.forEach(function (t) {
      ctx.fillText(t.name.length > 28 ? t.name.slice(0, 27) + '\u2026' : t.name,
                   2, t.top + ROW / 2);
    });
    result.dataset.view = Math.round(view.t0) + ',' + Math.round(view.t1);
    return drawn;
  }

  function timeAt(x) {
    return view.t0 + (x - GUTTER) * (view.t1 - view.t0) / (tl.width - GUTTER);
  }
  function setView(t0, t1) {
    var w = Math.min(span, Math.max(100, t1 - t0));
    t0 = Math.max(0, Math.min(t0, span - w));
    view.t0 = t0;
    view.t1 = t0 + w;
    drawTimeline();
  }
  function itemAt(x, y) {
    for (var r = 0; r < rows.length; r++) {
      var row = rows[r];
      if (y < row.y || y >= row.y + row.h) continue;
      var t = timeAt(x);
      var tol = 2 * (view.t1 - view.t0) / (tl.width - GUTTER);
      var i = firstEnding(row.items, t - tol);
      if (i < row.items.length && row.items[i][0] <= t + tol) {
        return {row: row, item: row.items[i]};
      }
    }
    return null;
  }
  var drag = null;
  tl.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var x = ev.offsetX;
    if (x < GUTTER) return;
    var f = ev.deltaY > 0 ? 1.25 : 0.8;
    var tm = timeAt(x);
    setView(tm - (tm - view.t0) * f, tm + (view.t1 - tm) * f);
  }, {passive: false});
  tl.addEventListener('mousedown', function (ev) {
    drag = {x: ev.offsetX, t0: view.t0, t1: view.t1};
  });
  window.addEventListener('mouseup', function () { drag = null; });
  tl.addEventListener('dblclick', function () { setView(0, span); });
  tl.addEventListener('mouseleave', hideTip);
  tl.addEventListener('mousemove', function (ev) {
    if (drag) {
      var dt = (ev.offsetX - drag.x) * (drag.t1 - drag.t0) /
          (tl.width - GUTTER);
      setView(drag.t0 - dt, drag.t1 - dt);
      hideTip();
      return;
    }
    var hit = itemAt(ev.offsetX, ev.offsetY);
    if (!hit) { hideTip(); return; }
    var it = hit.item, name = S[it[2]];
    var text = hit.row.track.name + ': ' +
        (hit.row.kind === 'log' ? 'log ' + name : name) +
        (hit.row.kind === 'log' && it[3] === 1 ? '' : ', ' + dur(it[1])) +
        ' at ' + dur(it[0]);
    if (it[3] > 1) text += ' (' + it[3] + ' merged)';
    showTip(ev, text);
  });

  // ---- Flame graph

  var FH = 18;
  var fl = document.getElementById('flame-canvas');
  var nodes = data.flame.map(function (n, i) {
    return {id: i, parent: n[0], name: S[n[1]], value: n[2], depth: 0,
            children: []};
  });
  var maxDepth = 0;
  nodes.forEach(function (n) {
    if (n.parent >= 0) {
      n.depth = nodes[n.parent].depth + 1;
      nodes[n.parent].children.push(n);
      maxDepth = Math.max(maxDepth, n.depth);
    }
  });
  nodes.forEach(function (n) {
    n.children.sort(function (a, b) { return a.name < b.name ? -1 : 1; });
  });
  fl.width = width(fl);
  fl.height = (maxDepth + 1) * FH;
  var focus = nodes[0];
  var boxes = [];

  function drawFlame() {
    var ctx = fl.getContext('2d');
    var W = fl.width;
    ctx.clearRect(0, 0, W, fl.height);
    ctx.font = '11px sans-serif';
    ctx.textBaseline = 'middle';
    boxes = [];
    var drawn = 0;
    function box(n, x, w, dim) {
      ctx.fillStyle = dim ? '#ddd' :
          n.id === 0 ? '#c9a26b' : 'hsl(' + (hash(n.name) % 50) + ',75%,62%)';
      ctx.fillRect(x, n.depth * FH, Math.max(w - 1, 0.5), FH - 1);
      if (w > 30) {
        ctx.save();
        ctx.beginPath();
        ctx.rect(x, n.depth * FH, w - 1, FH);
        ctx.clip();
        ctx.fillStyle = '#000';
        ctx.fillText(n.name, x + 3, n.depth * FH + FH / 2);
        ctx.restore();
      }
      boxes.push({x: x, w: w, node: n});
      drawn++;
    }
    for (var a = focus.parent; a >= 0; a = nodes[a].parent) {
      box(nodes[a], 0, W, true);
    }
    var scale = focus.value > 0 ? W / focus.value : 0;
    (function rec(n, x) {
      var w = n.value * scale;
      if (w < 0.5 && n !== focus) return;
      box(n, x, Math.max(w, n === focus ? W : 0), false);
      var cx = x;
      n.children.forEach(function (c) {
        rec(c, cx);
        cx += c.value * scale;
      });
    })(focus, 0);
    result.dataset.flameFocus = focus.name;
    return drawn;
  }
  function boxAt(x, y) {
    for (var i = 0; i < boxes.length; i++) {
      var b = boxes[i];
      if (x >= b.x && x < b.x + b.w && Math.floor(y / FH) === b.node.depth) {
        return b.node;
      }
    }
    return null;
  }
  fl.addEventListener('click', function (ev) {
    var n = boxAt(ev.offsetX, ev.offsetY);
    if (!n) return;
    focus = n.id === 0 ? nodes[0] : n;
    drawFlame();
  });
  fl.addEventListener('mouseleave', hideTip);
  fl.addEventListener('mousemove', function (ev) {
    var n = boxAt(ev.offsetX, ev.offsetY);
    if (!n) { hideTip(); return; }
    var total = Math.max(1, nodes[0].value);
    showTip(ev, n.name + ': ' + n.value + ' samples (' +
                (100 * n.value / total).toFixed(1) + '%)');
  });

  // ---- Notes on the bounds, the first drawing, and what it drew.

  var regions = 0, logs = 0, states = 0;
  data.tracks.forEach(function (t) {
    t.states.forEach(function (it) { states += it[3]; });
    t.logs.forEach(function (it) { logs += it[3]; });
    t.regions.forEach(function (list) {
      list.forEach(function (it) { regions += it[3]; });
    });
  });
  var notes = [];
  if (data.items_merged > 0) {
    notes.push(data.items_merged + ' short slices and marks were merged ' +
               'into aggregated ones (grey; at most ' + data.limits.items +
               ' per row)');
  }
  if (data.tracks_dropped > 0) {
    notes.push(data.tracks_dropped + ' goroutines are not shown (at most ' +
               data.limits.tracks + ' tracks)');
  }
  if (data.regions_dropped > 0) {
    notes.push(data.regions_dropped + ' regions nested deeper than ' +
               data.limits.depth + ' levels are not shown');
  }
  document.getElementById('timeline-bounds').textContent =
      data.tracks.length + ' goroutines, ' + states + ' state slices, ' +
      regions + ' regions, ' + logs + ' logs over ' + dur(span) + '. ' +
      (notes.length ? notes.join('; ') + '.' : 'Every slice is drawn.');
  document.getElementById('flame-bounds').textContent =
      nodes[0].value + ' samples, ' + nodes.length + ' frames.' +
      (data.frames_dropped > 0 ? ' ' + data.frames_dropped +
       ' samples end early: the graph holds at most ' + data.limits.frames +
       ' frames.' : '');

  var slicesDrawn = drawTimeline();
  var framesDrawn = drawFlame();

  // The function on most samples' stacks: a frame counts unless a frame of
  // the same function is above it (nearer the root).
  var cumulative = {};
  nodes.forEach(function (n) {
    if (n.id === 0) return;
    for (var a = n.parent; a > 0; a = nodes[a].parent) {
      if (nodes[a].name === n.name) return;
    }
    cumulative[n.name] = (cumulative[n.name] || 0) + n.value;
  });
  var top = '', topCount = 0;
  Object.keys(cumulative).sort().forEach(function (k) {
    if (cumulative[k] > topCount) { top = k; topCount = cumulative[k]; }
  });

  var r = result.dataset;
  r.tracks = data.tracks.length;
  r.stateSlices = states;
  r.regions = regions;
  r.logs = logs;
  r.slicesDrawn = slicesDrawn;
  r.timelinePixels = inked(tl, GUTTER, AXIS, tl.width - GUTTER,
                           tl.height - AXIS);
  r.flameNodes = nodes.length;
  r.flameFramesDrawn = framesDrawn;
  r.flameSamples = nodes[0].value;
  r.flamePixels = inked(fl, 0, 0, fl.width, fl.height);
  r.flameTop = top;
  r.flameTopSamples = topCount;
  r.done = 'yes';
})();
)js";

}  // namespace

absl::string_view ReportCss() { return kCss; }
absl::string_view ReportJs() { return kJs; }

}  // namespace gentrace::tools
