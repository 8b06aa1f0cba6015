/* A campaign's outcomes over time. The numbers come from the page (json_script
   "campaign-chart-data", the same numbers as the table under the chart); the live card is
   swapped by HTMX every few seconds, and the chart is drawn again from the new numbers. */
(function () {
  "use strict";

  var chart = null;

  function draw() {
    var source = document.getElementById("campaign-chart-data");
    var canvas = document.querySelector("canvas[data-campaign-chart]");
    if (!source || !canvas || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    if (chart) chart.destroy();
    var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (ds) {
          return { label: ds.label, data: ds.data, backgroundColor: ds.backgroundColor, borderRadius: 3, maxBarThickness: 34 };
        }),
      },
      options: {
        animation: reduceMotion ? false : { duration: 300 },
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
    canvas.setAttribute("data-drawn", String(data.labels.length));
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "campaign-live") draw();
  });
})();
