// Draws the PnL page's chart with uPlot from the JSON the server rendered into
// #pnl-data ({"days": [...], "series": {account: [net per day]}}). Presentation only:
// every number is computed by the server, and the table under the chart has them all.
(function () {
  "use strict";
  var holder = document.getElementById("pnl-chart");
  var source = document.getElementById("pnl-data");
  if (!holder || !source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
  var names = Object.keys(data.series);
  var colours = ["#0b57d0", "#b3261e", "#16794a", "#8a5a00", "#6a1b9a", "#00838f"];
  var bars = uPlot.paths.bars({ size: [0.6 / Math.max(1, names.length), 60] });
  var series = [{ label: "day (UTC)" }].concat(names.map(function (name, i) {
    return { label: name + " net", stroke: colours[i % colours.length],
             fill: colours[i % colours.length] + "99", paths: bars, points: { show: false } };
  }));
  var rows = [xs].concat(names.map(function (name) { return data.series[name]; }));
  function width() { return Math.max(280, holder.clientWidth - 10); }
  var plot = new uPlot({ width: width(), height: 300, series: series,
                         scales: { x: { time: true } }, axes: [{}, { label: "net PnL" }] },
                       rows, holder);
  window.addEventListener("resize", function () { plot.setSize({ width: width(), height: 300 }); });
})();
