// The indicators page's chart: ECharts (from npm, served from node_modules) drawing the numbers
// the page's table lists, taken from the element's data-chart attribute (CSP: no inline script).
(function () {
  "use strict";
  function draw() {
    var el = document.getElementById("chart");
    if (!el || typeof echarts === "undefined") return;
    var data = JSON.parse(el.getAttribute("data-chart") || "{}");
    if (!data.titles || !data.titles.length) {
      el.textContent = "暂无比率类指标。";
      el.classList.add("empty");
      return;
    }
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      aria: { enabled: true },
      color: ["#0b4f8a", "#8a1c0b"],
      legend: { data: ["当前", "目标"], textStyle: { color: "#1a1a1a" } },
      grid: { left: 8, right: 24, bottom: 8, containLabel: true },
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v + "%"; } },
      xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%", color: "#1a1a1a" } },
      yAxis: { type: "category", data: data.titles, axisLabel: { color: "#1a1a1a", width: 180, overflow: "break" } },
      series: [
        { name: "当前", type: "bar", data: data.now },
        { name: "目标", type: "bar", data: data.target }
      ]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-drawn", "true");
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
