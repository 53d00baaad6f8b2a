// ProcessLens charts: draws every Plotly figure embedded in the page as JSON.
//
// Markup (templates/reports/_charts.html):
//   <figure class="chart" data-chart="ID">
//     <div class="chart-static">...server-made SVG, shown without JavaScript...</div>
//     <script type="application/json" id="chart-ID-figure">{"data": [...], "layout": {...}}</script>
//   </figure>
// Load after plotly: <script src="{{ static_url('vendor/plotly/plotly-processlens.min.js') }}" defer>
// then charts.js, deferred too. No inline script, no eval: works
// under a Content-Security-Policy with script-src 'self'.
(function () {
  "use strict";

  function draw(figureElement) {
    var id = figureElement.getAttribute("data-chart");
    var source = document.getElementById("chart-" + id + "-figure");
    if (!source || !window.Plotly) {
      return; // the static SVG stays
    }
    var figure;
    try {
      figure = JSON.parse(source.textContent);
    } catch (error) {
      return;
    }
    var target = document.createElement("div");
    target.className = "chart-interactive";
    figureElement.insertBefore(target, figureElement.firstChild);
    window.Plotly.newPlot(target, figure.data, figure.layout, figure.config || {}).then(
      function () {
        var fallback = figureElement.querySelector(".chart-static");
        if (fallback) {
          // kept for screen readers (it carries the chart's description), hidden visually
          fallback.classList.add("visually-hidden");
        }
      }
    );
  }

  function drawAll() {
    var figures = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < figures.length; i += 1) {
      draw(figures[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
