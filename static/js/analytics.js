// The attack / defend matrix: reads the json_script block #matrix-data and draws it with the
// vendored Chart.js (static/vendor/chartjs). The page's tables carry the same figures without JS.
(function () {
  "use strict";

  var ZONES = ["maintenance", "unclassified", "defend", "attack"]; // drawing order: attack on top

  function withAlpha(hex, alpha) {
    var value = hex.replace("#", "");
    if (value.length === 3) { value = value.split("").map(function (c) { return c + c; }).join(""); }
    var n = parseInt(value, 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  // The market share S* as a dashed horizontal line with its label, drawn over the chart area.
  var marketShareLine = {
    id: "marketShareLine",
    afterDatasetsDraw: function (chart, args, options) {
      if (options.value === null || options.value === undefined) { return; }
      var area = chart.chartArea;
      var y = chart.scales.y.getPixelForValue(options.value);
      if (y < area.top || y > area.bottom) { return; }
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = options.color;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, y);
      ctx.lineTo(area.right, y);
      ctx.stroke();
      ctx.setLineDash([]);
      // The label sits on a white box at the right end, above the line, so dots do not hide it.
      ctx.font = "600 12px " + Chart.defaults.font.family;
      var width = ctx.measureText(options.label).width;
      var x = area.right - 6 - width;
      var top = y - 21 < area.top ? y + 4 : y - 21;
      ctx.fillStyle = "rgba(255, 255, 255, .9)";
      ctx.fillRect(x - 5, top, width + 10, 17);
      ctx.fillStyle = options.color;
      ctx.textBaseline = "top";
      ctx.fillText(options.label, x, top + 3);
      ctx.restore();
    }
  };

  function draw() {
    var canvas = document.getElementById("matrix-chart");
    var source = document.getElementById("matrix-data");
    if (!canvas || !source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var styles = getComputedStyle(document.documentElement);
    var colour = function (name) { return styles.getPropertyValue("--" + name).trim() || "#64748b"; };
    var lang = document.documentElement.lang || undefined;
    var units = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    var compact = new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 });
    var percent = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var wholePercent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
    var many = data.points.length > 800;
    var radius = data.points.length < 60 ? 6 : (many ? 2.5 : 4.5);

    var datasets = ZONES.map(function (zone) {
      var base = colour("zone-" + zone);
      return {
        label: data.labels.zones[zone],
        data: data.points.filter(function (p) { return p.zone === zone; }),
        backgroundColor: withAlpha(base, zone === "maintenance" ? 0.45 : 0.75),
        borderColor: base,
        borderWidth: 1,
        pointRadius: radius,
        pointHoverRadius: radius + 2.5
      };
    }).filter(function (dataset) { return dataset.data.length > 0; });

    var highest = Math.max.apply(null, data.points.map(function (p) { return p.y; }).concat([data.marketShare || 0]));
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily || Chart.defaults.font.family;
    Chart.defaults.color = colour("muted");

    new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      plugins: [marketShareLine],
      options: {
        maintainAspectRatio: false,
        animation: many || reduceMotion ? false : { duration: 250 },
        parsing: false,
        interaction: { mode: "nearest", intersect: true },
        layout: { padding: { top: 8, right: 8 } },
        scales: {
          x: {
            type: "logarithmic",
            title: { display: true, text: data.labels.x, font: { weight: "600" } },
            grid: { color: "#edf0f4" },
            ticks: {
              autoSkip: true,
              maxRotation: 0,
              callback: function (value) {
                var mantissa = Math.round(value / Math.pow(10, Math.floor(Math.log10(value))));
                return mantissa === 1 || mantissa === 2 || mantissa === 5 ? compact.format(value) : "";
              }
            }
          },
          y: {
            min: 0,
            suggestedMax: Math.min(1, highest * 1.1),
            title: { display: true, text: data.labels.y, font: { weight: "600" } },
            grid: { color: "#edf0f4" },
            ticks: { callback: function (value) { return wholePercent.format(value); } }
          }
        },
        plugins: {
          legend: { display: false }, // the page draws the legend in HTML, translated with the rest
          marketShareLine: { value: data.marketShare, label: data.labels.line, color: colour("market-line") },
          tooltip: {
            backgroundColor: "rgba(27, 36, 48, .92)",
            padding: 10,
            callbacks: {
              title: function (items) { var p = items[0].raw; return p.code + " · " + p.name; },
              label: function (item) {
                var p = item.raw;
                return [
                  data.labels.zones[p.zone],
                  data.labels.potential + ": " + units.format(p.x),
                  data.labels.walletShare + ": " + percent.format(p.y),
                  data.labels.marketShare + ": " + (p.s === null ? "—" : percent.format(p.s))
                ];
              }
            }
          }
        },
        onClick: function (event, elements, chart) {
          if (!data.detailUrl || !elements.length) { return; }
          var point = chart.data.datasets[elements[0].datasetIndex].data[elements[0].index];
          window.location.href = data.detailUrl.replace("__code__", encodeURIComponent(point.code));
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length && data.detailUrl ? "pointer" : "crosshair";
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
