// ProcessLens dashboard: table toggles and the heatmap's drill-down. Progressive enhancement:
// without JavaScript every view is its table and every team name a link to its results.
// Load after charts.js (both deferred). No inline script: works with script-src 'self'.
(function () {
  "use strict";

  // With charts drawn, each view shows its chart and keeps its table behind a button.
  function setUpToggles() {
    var buttons = document.querySelectorAll(".dash-toggle");
    for (var i = 0; i < buttons.length; i += 1) {
      var button = buttons[i];
      var table = document.getElementById(button.getAttribute("aria-controls"));
      if (!table || !window.Plotly) {
        continue; // no charts: the table stays as it is
      }
      table.classList.add("dash-table--collapsed");
      button.setAttribute("aria-expanded", "false");
      button.hidden = false;
      button.addEventListener("click", toggle);
    }
  }

  function toggle(event) {
    var button = event.currentTarget;
    var table = document.getElementById(button.getAttribute("aria-controls"));
    var open = button.getAttribute("aria-expanded") !== "true";
    table.classList.toggle("dash-table--collapsed", !open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "Hide table" : "Show table";
    if (open) {
      table.focus();
    }
  }

  // Clicking a cell of the team heatmap opens that team's results (links ride in customdata).
  function setUpDrillDown(attempt) {
    var plot = document.querySelector('[data-chart="teams"] .chart-interactive');
    if (!plot || typeof plot.on !== "function") {
      if (attempt < 50) {
        window.setTimeout(function () {
          setUpDrillDown(attempt + 1);
        }, 100);
      }
      return;
    }
    plot.on("plotly_click", function (data) {
      var point = data && data.points && data.points[0];
      var link = point && point.customdata;
      if (typeof link === "string" && link.charAt(0) === "/" && link.charAt(1) !== "/") {
        window.location.assign(link);
      }
    });
    plot.classList.add("dash-clickable");
  }

  function start() {
    setUpToggles();
    setUpDrillDown(0);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
