/* Draws every chart on the page from its JSON config (a <script type="application/json"
   class="chart-config"> next to a [data-chart] box), the same way on full pages and in /embed/.
   Untrusted strings (job names, ids) reach the DOM only through escape() in tooltip formatters;
   axis labels and legends are drawn on the canvas. */
(function () {
  "use strict";
  var F = window.jobtrailFormat;
  var STATE_COLORS = {
    succeeded: "#2e7d32", failed: "#c62828", killed: "#ad1457", lost: "#6d4c41",
    cancelled: "#9e9e9e", retrying: "#ef6c00", kill_requested: "#ef6c00", queued: "#1565c0",
    scheduled: "#90a4ae", started: "#00838f"
  };
  var SERIES_COLORS = { succeeded: "#2e7d32", failed: "#c62828", queued: "#1565c0",
    running: "#00838f", p50: "#1565c0", p95: "#ef6c00", "failure rate": "#c62828" };
  var inFrame = window.top !== window.self;

  // The path the dashboard is mounted at inside another app ("" when served on its own).
  var ROOT = document.body.getAttribute("data-root") || "";
  function jobUrl(id) { return ROOT + "/jobs/" + encodeURIComponent(id); }
  function go(url) {
    if (inFrame) window.open(url, "_blank", "noopener");
    else window.location.assign(url);
  }
  function axisValue(unit) { return function (v) { return F.value(unit, v); }; }

  function timeChart(cfg) {
    var unit = cfg.unit;
    var series = cfg.series.map(function (s, i) {
      var out = {
        name: s.name, type: s.type === "bar" ? "bar" : "line", data: s.data, showSymbol: false,
        connectNulls: unit === "duration", color: SERIES_COLORS[s.name],
        stack: s.stack ? "total" : undefined, areaStyle: s.area ? { opacity: 0.25 } : undefined
      };
      if (i === 0 && cfg.marks && cfg.marks.length) {
        out.markArea = {
          silent: true,
          label: { position: "insideTop", color: "#333" },
          data: cfg.marks.filter(function (m) { return m.from !== null && m.to !== null; })
            .map(function (m) {
              return [{ xAxis: m.from, name: m.label,
                        itemStyle: { color: m.label === "run" ? "rgba(0,131,143,0.18)" : "rgba(239,108,0,0.16)" } },
                      { xAxis: m.to }];
            })
        };
      }
      return out;
    });
    return {
      animation: false,
      grid: { left: 64, right: 16, top: 36, bottom: 28 },
      legend: { top: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          if (!items.length) return "";
          var lines = [F.escape(F.time(items[0].value[0]))];
          items.forEach(function (it) {
            lines.push(it.marker + F.escape(it.seriesName) + ": " + F.escape(F.value(unit, it.value[1])));
          });
          return lines.join("<br>");
        }
      },
      xAxis: { type: "time" },
      yAxis: { type: "value", min: 0, minInterval: unit === "count" ? 1 : undefined,
               axisLabel: { formatter: axisValue(unit) } },
      series: series
    };
  }

  function runsChart(cfg) {
    var normal = [], mine = [];
    cfg.points.forEach(function (p) {  // [finished ms, run s, wait s, job id]
      (p[3] === cfg.highlight ? mine : normal).push({ value: [p[0], p[1]], id: p[3], wait: p[2] });
    });
    var usual = cfg.usual === null || cfg.usual === undefined ? [] :
      [{ yAxis: cfg.usual, name: "usual" }];
    return {
      animation: false,
      grid: { left: 64, right: 16, top: 36, bottom: 28 },
      legend: { top: 0 },
      tooltip: {
        trigger: "item",
        formatter: function (it) {
          return F.escape(it.data.id) + "<br>" + F.escape(F.time(it.value[0])) + "<br>ran " +
            F.escape(F.duration(it.value[1])) + ", waited " + F.escape(F.duration(it.data.wait));
        }
      },
      xAxis: { type: "time" },
      yAxis: { type: "value", min: 0, name: "run time", axisLabel: { formatter: axisValue("duration") } },
      series: [
        { name: "earlier runs", type: "scatter", data: normal, symbolSize: 7, color: "#90a4ae",
          markLine: { silent: true, symbol: "none", data: usual, lineStyle: { type: "dashed" },
                      label: { formatter: function (p) { return "usual " + F.duration(p.value); } } } },
        { name: "this run", type: "scatter", data: mine, symbolSize: 16, color: "#c62828", z: 5,
          label: { show: true, position: "top", formatter: "this run" } }
      ]
    };
  }

  function ganttChart(cfg) {
    var rows = cfg.rows;
    var data = rows.map(function (r, i) {
      var start = r.q !== null ? r.q : (r.s !== null ? r.s : cfg.now);
      var end = r.f !== null ? r.f : cfg.now;
      return { value: [i, start, r.s, end], row: r };
    });
    var highlighted = cfg.highlight;
    function renderItem(params, api) {
      var i = api.value(0);
      var r = rows[i];
      var y = api.coord([api.value(1), i])[1];
      var h = Math.max(4, api.size([0, 1])[1] * 0.6);
      var x0 = api.coord([api.value(1), i])[0];
      var xs = r.s !== null ? api.coord([r.s, i])[0] : null;
      var x1 = api.coord([api.value(3), i])[0];
      var mine = highlighted && r.id === highlighted;
      var faded = highlighted && !mine;
      var children = [];
      var waitEnd = xs !== null ? xs : x1;
      children.push({ type: "rect", shape: { x: x0, y: y - h / 2, width: Math.max(1, waitEnd - x0), height: h },
                      style: { fill: "#cfd8dc", opacity: faded ? 0.4 : 1 } });
      if (xs !== null) {
        children.push({ type: "rect", shape: { x: xs, y: y - h / 2, width: Math.max(2, x1 - xs), height: h },
                        style: { fill: STATE_COLORS[r.state] || "#607d8b", opacity: faded ? 0.35 : 1,
                                 stroke: mine ? "#000" : null, lineWidth: mine ? 2 : 0 } });
      }
      return { type: "group", children: children };
    }
    return {
      animation: false,
      grid: { left: 160, right: 16, top: 16, bottom: 28 },
      tooltip: {
        trigger: "item",
        formatter: function (it) {
          var r = it.data.row;
          var wait = r.s !== null && r.q !== null ? (r.s - r.q) / 1000 : null;
          var run = r.s !== null ? ((r.f !== null ? r.f : cfg.now) - r.s) / 1000 : null;
          return "<b>" + F.escape(r.name) + "</b><br>" + F.escape(r.id) + " · " + F.escape(r.state) +
            "<br>waited " + F.escape(F.duration(wait)) + ", ran " + F.escape(F.duration(run));
        }
      },
      xAxis: { type: "time" },
      yAxis: {
        type: "category", inverse: true, data: rows.map(function (r) { return r.id; }),
        axisLabel: {
          width: 150, overflow: "truncate",
          formatter: function (id, i) {
            var r = rows[i];
            var text = (r && r.name ? r.name : id);
            return highlighted && id === highlighted ? "{hl|▶ " + text.replace(/[{}|]/g, "") + "}" : text.replace(/[{}|]/g, "");
          },
          rich: { hl: { fontWeight: "bold", color: "#c62828" } }
        }
      },
      series: [{ type: "custom", renderItem: renderItem, encode: { x: [1, 3], y: 0 }, data: data }]
    };
  }

  function heatmapChart(cfg) {
    var times = cfg.times || [], index = {};
    times.forEach(function (t, i) { index[t] = i; });
    var max = 1;
    var data = cfg.cells.map(function (c) { max = Math.max(max, c[2]); return [index[c[0]], c[1], c[2]]; });
    return {
      animation: false,
      grid: { left: 90, right: 16, top: 16, bottom: 64 },
      tooltip: {
        formatter: function (it) {
          return F.escape(F.time(times[it.value[0]])) + "<br>" + F.escape(cfg.labels[it.value[1]] || "") +
            ": " + F.escape(it.value[2]) + " runs";
        }
      },
      xAxis: { type: "category", data: times.map(function (t) { return F.time(t).slice(5, 16); }) },
      yAxis: { type: "category", data: cfg.labels },
      visualMap: { min: 0, max: max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
                   itemHeight: 80, inRange: { color: ["#e3f2fd", "#1565c0", "#c62828"] } },
      series: [{ type: "heatmap", data: data }]
    };
  }

  var BUILDERS = { time: timeChart, runs: runsChart, gantt: ganttChart, heatmap: heatmapChart };

  function draw(box) {
    var source = box.parentNode.querySelector("script.chart-config");
    if (!source || !window.echarts) return;
    var cfg = JSON.parse(source.textContent);
    var build = BUILDERS[cfg.kind];
    if (!build) return;
    var empty = (cfg.series && cfg.series.every(function (s) { return !s.data.some(function (d) { return d[1] !== null; }); })) ||
      (cfg.points && !cfg.points.length) || (cfg.rows && !cfg.rows.length) || (cfg.cells && !cfg.cells.length);
    if (empty) {
      box.classList.add("no-data");
      box.textContent = cfg.title + ": no data in this span";
      return;
    }
    var option = build(cfg);
    option.title = option.title || { text: "", show: false };
    var chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption(option);
    box.setAttribute("data-ready", "1");
    chart.on("click", function (p) {
      var id = p.data && (p.data.id || (p.data.row && p.data.row.id));
      if (id) go(jobUrl(id));
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
