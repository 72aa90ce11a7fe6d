// Draw the result charts of an experiment page and follow a running job.
//
// The chart specs come from the JSON block #chart-data. Each drawn chart is
// recorded in window.aihwCharts as {id, points, series, plot}. While the job
// is waiting or running, the page polls its status route every second and
// reloads once the job has finished, so that the results appear.
(function () {
  "use strict";
  var COLORS = ["#1f5fbf", "#c0392b", "#2e8b57", "#8e44ad"];
  window.aihwCharts = [];

  function drawChart(spec) {
    var container = document.getElementById("chart-" + spec.id);
    if (!container || typeof uPlot === "undefined") {
      return;
    }
    // The service writes NaN and infinities as null. uPlot leaves a gap at a
    // null y value, but cannot place a point without x, so drop those.
    var keep = spec.x.map(function (x) { return x !== null; });
    function kept(values) {
      return values.filter(function (value, index) { return keep[index]; });
    }
    var series = [{label: spec.x_label}];
    var data = [kept(spec.x)];
    spec.series.forEach(function (line, index) {
      series.push({
        label: line.label,
        stroke: COLORS[index % COLORS.length],
        width: 2,
        dash: line.dash ? [line.dash, line.dash] : undefined,
        points: {show: true, size: 6},
      });
      data.push(kept(line.values));
    });
    var options = {
      width: Math.min(640, container.clientWidth || 640),
      height: 300,
      scales: {x: spec.log_x ? {time: false, distr: 3, log: 10} : {time: false}},
      // Epochs are whole numbers: no ticks between them.
      axes: [
        {label: spec.x_label, incrs: spec.log_x ? undefined : [1, 2, 5, 10, 20, 50]},
        {label: spec.y_label},
      ],
      series: series,
    };
    var plot = new uPlot(options, data, container);
    container.dataset.drawn = "true";
    window.aihwCharts.push({
      id: spec.id, points: data[0].length, series: spec.series, plot: plot,
    });
  }

  function followJob(box) {
    var statusElement = document.getElementById("status");
    var url = "/experiments/" + box.dataset.experimentId + "/status";
    function poll() {
      fetch(url, {credentials: "same-origin", cache: "no-store"})
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status);
          }
          return response.json();
        })
        .then(function (body) {
          var status = body.status || "no job";
          statusElement.textContent = status;
          statusElement.className = "status status-" + status;
          if (status === "completed" || status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () {
          window.setTimeout(poll, 5000);
        });
    }
    window.setTimeout(poll, 1000);
  }

  var specs = JSON.parse(document.getElementById("chart-data").textContent);
  specs.forEach(drawChart);
  var box = document.getElementById("experiment");
  if (box && (box.dataset.status === "waiting" || box.dataset.status === "running")) {
    followJob(box);
  }
})();
