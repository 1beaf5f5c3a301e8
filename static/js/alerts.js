// The alert page's trend: reads the json_script block #trend-data and draws the store's 28-day share
// against the market share with the vendored Chart.js (static/vendor/chartjs).
(function () {
  "use strict";

  // A dotted vertical line with a label on the day the alert opened.
  var openedLine = {
    id: "openedLine",
    afterDatasetsDraw: function (chart, args, options) {
      var index = chart.data.labels.indexOf(options.day);
      if (index < 0) { return; }
      var area = chart.chartArea;
      var x = chart.scales.x.getPixelForValue(index);
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = options.color;
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.font = "600 11px " + Chart.defaults.font.family;
      ctx.fillStyle = options.color;
      ctx.textBaseline = "top";
      var width = ctx.measureText(options.label).width;
      ctx.fillText(options.label, x + width + 8 > area.right ? x - width - 4 : x + 4, area.top + 2);
      ctx.restore();
    }
  };

  function draw() {
    var canvas = document.getElementById("trend-chart");
    var source = document.getElementById("trend-data");
    if (!canvas || !source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var styles = getComputedStyle(document.documentElement);
    var colour = function (name, fallback) { return styles.getPropertyValue("--" + name).trim() || fallback; };
    var lang = document.documentElement.lang || undefined;
    var percent = new Intl.NumberFormat(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
    var wholePercent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 0 });
    var dayFormat = new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", timeZone: "UTC" });
    var longDay = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" });
    var asDate = function (iso) { return new Date(iso + "T00:00:00Z"); };
    var values = data.cs.concat(data.ms).filter(function (v) { return v !== null; });
    var highest = values.length ? Math.max.apply(null, values) : 0.5;
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var cs = colour("trend-cs", "#dc2626");
    var ms = colour("trend-ms", "#1f3a5f");
    var line = colour("trend-line", "#b45309");

    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily || Chart.defaults.font.family;
    Chart.defaults.color = colour("muted", "#5f6b7a");

    new Chart(canvas, {
      type: "line",
      data: {
        labels: data.days,
        datasets: [
          { label: data.labels.cs, data: data.cs, borderColor: cs, backgroundColor: cs, borderWidth: 2.5,
            pointRadius: 0, pointHoverRadius: 4, tension: 0.2, spanGaps: false },
          { label: data.labels.ms, data: data.ms, borderColor: ms, backgroundColor: ms, borderWidth: 2,
            borderDash: [6, 4], pointRadius: 0, pointHoverRadius: 3, stepped: true },
          { label: data.labels.line, data: data.line, borderColor: line, backgroundColor: line, borderWidth: 1.5,
            borderDash: [2, 3], pointRadius: 0, pointHoverRadius: 0, stepped: true }
        ]
      },
      plugins: [openedLine],
      options: {
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 250 },
        interaction: { mode: "index", intersect: false },
        layout: { padding: { top: 8, right: 8 } },
        scales: {
          x: {
            grid: { display: false },
            ticks: {
              autoSkip: true, maxRotation: 0, maxTicksLimit: canvas.parentNode.clientWidth < 560 ? 4 : 8,
              callback: function (value) { return dayFormat.format(asDate(this.getLabelForValue(value))); }
            }
          },
          y: {
            min: 0,
            suggestedMax: Math.min(1, highest * 1.25),
            grid: { color: "#edf0f4" },
            ticks: { callback: function (value) { return wholePercent.format(value); } }
          }
        },
        plugins: {
          legend: { display: false }, // the page draws the legend in HTML, translated with the rest
          openedLine: { day: data.openedOn, label: data.labels.opened, color: "#5f6b7a" },
          tooltip: {
            backgroundColor: "rgba(27, 36, 48, .92)",
            padding: 10,
            callbacks: {
              title: function (items) { return longDay.format(asDate(data.days[items[0].dataIndex])); },
              label: function (item) {
                var value = item.raw;
                if (item.datasetIndex === 0 && value === null) { return data.labels.cs + ": — (" + data.labels.insufficient + ")"; }
                if (value === null) { return item.dataset.label + ": —"; }
                var text = item.dataset.label + ": " + percent.format(value);
                if (item.datasetIndex === 1) { text += " (" + data.labels.sources[data.source[item.dataIndex]] + ")"; }
                return text;
              },
              footer: function (items) {
                var i = items[0].dataIndex;
                var fsi = data.fsi[i] === null ? "—" : Math.round(data.fsi[i]);
                return data.labels.fsi + " " + fsi + " · " + data.labels.validDays + " " + data.validDays[i];
              }
            }
          }
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
