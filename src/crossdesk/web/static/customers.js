// The customers page's charts, from the page's JSON data block: customers and spend per segment, customers
// by predicted value, customers by churn risk.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("segment-data").textContent);
  const canvas = document.getElementById("segment-chart");
  if (!window.Chart || !canvas) return;
  const bars = (id, labels, values, colors, title) => {
    const element = document.getElementById(id);
    if (!element) return;
    new window.Chart(element, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: data.text.customers, data: values, backgroundColor: colors }] },
      options: { maintainAspectRatio: false, animation: false, plugins: { title: { display: true, text: title } },
                 scales: { y: { beginAtZero: true } } },
    });
  };
  bars("clv-chart", data.clv.labels, data.clv.customers, "#2563eb",
       data.text.clv);
  bars("churn-chart", data.churn.map((pair) => pair[0]), data.churn.map((pair) => pair[1]),
       ["#16a34a", "#d97706", "#dc2626", "#9aa5b1"], data.text.churn);
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.text.customers, data: data.customers, backgroundColor: "#2563eb", yAxisID: "y" },
        { type: "line", label: data.text.spend, data: data.spend, borderColor: "#d97706",
          backgroundColor: "#d97706", yAxisID: "spend" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      animation: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: data.text.customers } },
        spend: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
                 title: { display: true, text: data.currency } },
      },
    },
  });
})();
