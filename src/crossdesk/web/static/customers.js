// The segments chart: customers (bars) and spend (line) per segment, from the page's JSON data block.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("segment-data").textContent);
  const canvas = document.getElementById("segment-chart");
  if (!window.Chart || !canvas) return;
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: "customers", data: data.customers, backgroundColor: "#2563eb", yAxisID: "y" },
        { type: "line", label: "spend (" + data.currency + ")", data: data.spend, borderColor: "#d97706",
          backgroundColor: "#d97706", yAxisID: "spend" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "customers" } },
        spend: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                 title: { display: true, text: data.currency } },
      },
    },
  });
})();
