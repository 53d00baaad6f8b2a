// ProcessLens's Plotly: the core and only the trace types app/charts draws.
// Built by build.mjs into ../vendor/plotly/plotly-processlens.min.js (see README.md here).
"use strict";

var Plotly = require("plotly.js/lib/core");

Plotly.register([
  require("plotly.js/lib/bar"), // bar and stacked bar charts
  require("plotly.js/lib/heatmap"), // the dashboard's team heatmap
  require("plotly.js/lib/scatterpolar"), // the radar
  // scatter is part of the core already; listed so the bundle keeps it if that changes
  require("plotly.js/lib/scatter"), // dot and dumbbell charts (perception gaps)
]);

module.exports = Plotly;
