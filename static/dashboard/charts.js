/* The overview's charts. The numbers come from the page (json_script "chart-data"), the same
   numbers the tables under each chart show; nothing is fetched. */
(function () {
  "use strict";

  function init() {
    var source = document.getElementById("chart-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    var Chart = window.Chart;
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 12;
    Chart.defaults.color = "#475467";
    Chart.defaults.borderColor = "#eaecf0";
    Chart.defaults.animation = reduceMotion ? false : { duration: 450 };
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 10;
    Chart.defaults.plugins.legend.labels.boxHeight = 10;
    Chart.defaults.plugins.legend.labels.useBorderRadius = true;
    Chart.defaults.plugins.legend.labels.borderRadius = 3;
    Chart.defaults.plugins.tooltip.backgroundColor = "#101828";
    Chart.defaults.plugins.tooltip.padding = 10;
    Chart.defaults.plugins.tooltip.cornerRadius = 8;

    // "No data yet" over a chart whose numbers are all zero or missing.
    var emptyNote = {
      id: "emptyNote",
      afterDraw: function (chart) {
        var any = chart.data.datasets.some(function (ds) {
          return ds.data.some(function (v) { return v; });
        });
        if (any) return;
        var area = chart.chartArea;
        var ctx = chart.ctx;
        ctx.save();
        ctx.fillStyle = "#667085";
        ctx.font = "500 13px " + Chart.defaults.font.family;
        ctx.textAlign = "center";
        ctx.fillText("No data yet", (area.left + area.right) / 2, (area.top + area.bottom) / 2);
        ctx.restore();
      },
    };

    function canvas(name) {
      return document.querySelector('canvas[data-chart="' + name + '"]');
    }

    function shortDay(iso) {
      var parts = iso.split("-");
      var d = new Date(Date.UTC(+parts[0], +parts[1] - 1, +parts[2]));
      return d.toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
    }

    var cpd = data.calls_per_day;
    if (canvas("calls_per_day")) {
      new Chart(canvas("calls_per_day"), {
        type: "bar",
        data: {
          labels: cpd.labels.map(shortDay),
          datasets: cpd.datasets.map(function (ds) {
            return {
              label: ds.label, data: ds.data, backgroundColor: ds.backgroundColor, key: ds.key,
              borderRadius: 3, borderSkipped: false, maxBarThickness: 34, borderWidth: 1, borderColor: "#ffffff",
            };
          }),
        },
        options: {
          scales: {
            x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 10 } },
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, border: { display: false } },
          },
          plugins: { legend: { position: "bottom" }, tooltip: { mode: "index", intersect: false } },
        },
        plugins: [emptyNote],
      });
    }

    var funnel = data.funnel;
    if (canvas("funnel")) {
      new Chart(canvas("funnel"), {
        type: "bar",
        data: {
          labels: funnel.labels,
          datasets: [{ label: "Customers who reached this level", data: funnel.reached, backgroundColor: funnel.colors,
                       borderRadius: 5, maxBarThickness: 30 }],
        },
        options: {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { precision: 0 }, border: { display: false } }, y: { grid: { display: false } } },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                afterLabel: function (item) {
                  var i = item.dataIndex;
                  return "At this level now: " + funnel.counts[i] + (i ? " · " + funnel.rates[i] + "% of the previous step" : "");
                },
              },
            },
          },
        },
        plugins: [emptyNote],
      });
    }

    var pickup = data.pickup;
    if (canvas("pickup")) {
      new Chart(canvas("pickup"), {
        data: {
          labels: pickup.labels,
          datasets: [
            { type: "bar", label: "Pick-up rate (%)", data: pickup.pickup_rate, backgroundColor: "#818cf8",
              borderRadius: 3, maxBarThickness: 18, yAxisID: "y", order: 2 },
            { type: "line", label: "Calls", data: pickup.attempts, borderColor: "#0d9488", backgroundColor: "#0d9488",
              pointRadius: 0, borderWidth: 2, tension: 0.35, yAxisID: "y1", order: 1 },
          ],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
            y: { beginAtZero: true, max: 100, ticks: { callback: function (v) { return v + "%"; }, stepSize: 25 }, border: { display: false } },
            y1: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { precision: 0 }, border: { display: false } },
          },
          plugins: { legend: { position: "bottom" } },
        },
        plugins: [emptyNote],
      });
    }

    var latency = data.latency;
    if (canvas("latency")) {
      new Chart(canvas("latency"), {
        type: "bar",
        data: {
          labels: latency.labels,
          datasets: [{ label: "Reply time (ms)", data: latency.values_ms, backgroundColor: ["#6366f1", "#f59e0b"],
                       borderRadius: 5, maxBarThickness: 22 }],
        },
        options: {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { maxRotation: 0, maxTicksLimit: 5, callback: function (v) { return v + " ms"; } }, border: { display: false } },
                    y: { grid: { display: false } } },
          plugins: { legend: { display: false } },
        },
        plugins: [emptyNote],
      });
    }
    document.documentElement.setAttribute("data-charts-ready", "true");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
