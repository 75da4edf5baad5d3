/* Auswertung: draws each <canvas data-chart> with Chart.js (served from /static/vendor).
   The table below each chart holds every value; withheld values (null) are simply not drawn. */
(function () {
  "use strict";
  var COLOURS = ["#1b5e9e", "#c2571a", "#2e7d32", "#6a3d9a", "#8c6d1f", "#00838f"];
  var PATTERNS = [[], [6, 3], [2, 2], [8, 2, 2, 2], [4, 4], [1, 3]];

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var stacked = spec.art === "gestapelt";
    var horizontal = spec.art === "quer";
    var datasets = spec.reihen.map(function (reihe, i) {
      return {
        label: reihe.label,
        data: reihe.werte,
        backgroundColor: COLOURS[i % COLOURS.length],
        borderColor: "#1a1a1a",
        borderWidth: 1,
        borderDash: PATTERNS[i % PATTERNS.length]
      };
    });
    canvas.parentNode.style.height = Math.max(220, (horizontal ? spec.labels.length * 34 : 260)) + "px";
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: {
          x: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
  }

  function init() {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      canvas.chart = draw(canvas);
      canvas.setAttribute("data-chart-ready", "ja");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
