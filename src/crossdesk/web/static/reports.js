// The reports page's charts, drawn from the page's JSON data block (the tables under them hold the same
// numbers). Labels come from the data, and Chart.js draws them on a canvas: no data becomes HTML.
(function () {
  "use strict";
  const block = document.getElementById("report-data");
  if (!window.Chart || !block) return;
  const data = JSON.parse(block.textContent);
  const colors = { conversations: "#2563eb", inbound: "#16a34a", replies: "#d97706", resolved: "#7c3aed",
                   backlog: "#dc2626" };
  const dataset = (table, key, extra) => Object.assign(
    { label: data.series[key], data: table[key], backgroundColor: colors[key], borderColor: colors[key] }, extra);
  const volume = ["conversations", "inbound", "replies"];
  const draw = (id, type, labels, datasets, options) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new window.Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ maintainAspectRatio: false, animation: false,
                               scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }, options),
    });
  };
  draw("volume-chart", "bar", data.days, volume.map((k) => dataset(data.by_day, k)));
  draw("backlog-chart", "bar", data.days, [
    dataset(data.by_day, "resolved"),
    dataset(data.by_day, "backlog", { type: "line", spanGaps: false }),
  ]);
  draw("hour-chart", "bar", data.hours, volume.map((k) => dataset(data.by_hour, k)));
  draw("channel-chart", "bar", data.channels, volume.map((k) => dataset(data.by_channel, k)));
  draw("language-chart", "bar", data.languages, volume.map((k) => dataset(data.by_language, k)));
})();
