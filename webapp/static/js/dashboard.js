/* Auswertung: draws each <canvas data-chart> with Chart.js (served from /static/vendor).
   The table below each chart holds every value; withheld values (null) are simply not drawn.
   Series differ by a fill pattern as well as by colour (WCAG 1.4.1): each bar is filled with a
   CanvasPattern — plain, stripes, dots, cross-hatch … — that the legend shows too. */
(function () {
  "use strict";
  var COLOURS = ["#1b5e9e", "#c2571a", "#2e7d32", "#6a3d9a", "#8c6d1f", "#00838f"];
  var PATTERN_NAMES = ["flach", "schraeg", "punkte", "gitter", "quer", "senkrecht"];

  /* One tile of pattern ``name`` (white marks on ``colour``), repeated over the bar. */
  function pattern(name, colour) {
    var size = 10;
    var tile = document.createElement("canvas");
    tile.width = size;
    tile.height = size;
    var ctx = tile.getContext("2d");
    ctx.fillStyle = colour;
    ctx.fillRect(0, 0, size, size);
    ctx.strokeStyle = "#ffffff";
    ctx.fillStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    if (name === "schraeg") {
      ctx.moveTo(0, size); ctx.lineTo(size, 0);
      ctx.moveTo(-size / 2, size / 2); ctx.lineTo(size / 2, -size / 2);
      ctx.moveTo(size / 2, size * 1.5); ctx.lineTo(size * 1.5, size / 2);
    } else if (name === "punkte") {
      ctx.arc(size / 2, size / 2, 2, 0, 2 * Math.PI);
      ctx.fill();
    } else if (name === "gitter") {
      ctx.moveTo(0, size / 2); ctx.lineTo(size, size / 2);
      ctx.moveTo(size / 2, 0); ctx.lineTo(size / 2, size);
    } else if (name === "quer") {
      ctx.moveTo(0, size / 2); ctx.lineTo(size, size / 2);
    } else if (name === "senkrecht") {
      ctx.moveTo(size / 2, 0); ctx.lineTo(size / 2, size);
    }
    ctx.stroke();
    var fill = ctx.createPattern(tile, "repeat");
    fill.hilfenetzMuster = name;  /* read by the browser test */
    return fill;
  }

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var stacked = spec.art === "gestapelt";
    var horizontal = spec.art === "quer";
    var datasets = spec.reihen.map(function (reihe, i) {
      return {
        label: reihe.label,
        data: reihe.werte,
        backgroundColor: pattern(PATTERN_NAMES[i % PATTERN_NAMES.length], COLOURS[i % COLOURS.length]),
        borderColor: "#1a1a1a",
        borderWidth: 1
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
        plugins: { legend: { display: datasets.length > 1, position: "bottom", labels: { boxWidth: 24, boxHeight: 16 } } },
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
