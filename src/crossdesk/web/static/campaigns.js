// A campaign's results chart: the share of customers who ordered, messaged against the control group, from
// the page's JSON data block (texts come translated from the server).
(function () {
  "use strict";
  const canvas = document.getElementById("campaign-chart");
  const block = document.getElementById("campaign-data");
  if (!window.Chart || !canvas || !block) return;
  const data = JSON.parse(block.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: data.text.label, data: data.values, backgroundColor: ["#2563eb", "#9aa5b1"] }],
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false }, title: { display: true, text: data.text.title } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "%" } } },
    },
  });
})();
