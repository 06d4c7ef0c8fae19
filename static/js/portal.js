/* Portal behaviour without inline scripts (the Content-Security-Policy forbids them):
   confirmations, copy buttons, the dashboard charts and the microservice health card. */
(function () {
  "use strict";

  // Forms with data-confirm ask before submitting (deactivate, rotate, redeliver…).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // Copy buttons next to secrets shown once.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (button) {
      var input = document.querySelector(button.getAttribute("data-copy"));
      if (!input) { return; }
      var done = function () {
        button.innerHTML = '<i class="fas fa-check mr-1"></i>Copied';
        setTimeout(function () { button.innerHTML = '<i class="far fa-copy mr-1"></i>Copy'; }, 2000);
      };
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
      return;
    }
    var back = event.target.closest && event.target.closest("[data-back]");
    if (back) {
      event.preventDefault();
      window.history.back();
    }
  });

  function charts() {
    var source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    Chart.defaults.global.defaultFontFamily = getComputedStyle(document.body).fontFamily;
    Chart.defaults.global.defaultFontColor = "#858796";
    var hourly = document.getElementById("hourlyChart");
    if (hourly) {
      new Chart(hourly, {
        type: "bar",
        data: {
          labels: data.hours.labels,
          datasets: [
            { label: "Completed", backgroundColor: "#1cc88a", data: data.hours.completed },
            { label: "Failed", backgroundColor: "#e74a3b", data: data.hours.failed },
            { label: "In flight", backgroundColor: "#36b9cc", data: data.hours.in_flight }
          ]
        },
        options: {
          maintainAspectRatio: false, animation: false,
          scales: {
            xAxes: [{ stacked: true, gridLines: { display: false }, ticks: { maxTicksLimit: 12 } }],
            yAxes: [{ stacked: true, ticks: { beginAtZero: true, precision: 0 } }]
          },
          legend: { display: true, position: "bottom" }
        }
      });
    }
    var usage = document.getElementById("usageChart");
    if (usage) {
      new Chart(usage, {
        type: "bar",
        data: {
          labels: data.days,
          datasets: [
            { label: "API calls", backgroundColor: "#4e73df", data: data.calls, yAxisID: "calls" },
            { label: "Successful volume", type: "line", borderColor: "#1cc88a", backgroundColor: "transparent",
              data: data.volume, yAxisID: "volume" }
          ]
        },
        options: {
          maintainAspectRatio: false, animation: false,
          scales: {
            xAxes: [{ gridLines: { display: false } }],
            yAxes: [{ id: "calls", position: "left", ticks: { beginAtZero: true, precision: 0 } },
                    { id: "volume", position: "right", ticks: { beginAtZero: true }, gridLines: { display: false } }]
          },
          legend: { display: true, position: "bottom" }
        }
      });
    }
    var statuses = document.getElementById("statusChart");
    if (statuses) {
      var colors = { completed: "#1cc88a", failed: "#e74a3b", timed_out: "#f6c23e", pending: "#36b9cc",
                     dispatched: "#4e73df", received: "#858796" };
      new Chart(statuses, {
        type: "doughnut",
        data: {
          labels: data.statuses.labels,
          datasets: [{ data: data.statuses.counts,
                       backgroundColor: data.statuses.labels.map(function (s) { return colors[s] || "#5a5c69"; }) }]
        },
        options: { maintainAspectRatio: false, animation: false, cutoutPercentage: 70,
                   legend: { display: true, position: "bottom" } }
      });
    }
  }

  function health() {
    var list = document.getElementById("health-list");
    if (!list) { return; }
    var item = function (html) { return '<li class="list-group-item px-0 small">' + html + "</li>"; };
    var escape = function (text) {
      var div = document.createElement("div");
      div.textContent = text == null ? "" : String(text);
      return div.innerHTML;
    };
    fetch(list.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        list.innerHTML = body.services.map(function (s) {
          return item('<span class="status-dot ' + (s.up ? "bg-success" : "bg-danger") + '"></span>' +
            '<strong>' + escape(s.name) + "</strong> " +
            '<span class="badge ' + (s.up ? "badge-success" : "badge-danger") + '" data-test="health-' +
            (s.up ? "up" : "down") + '">' + (s.up ? "up" : "down") + "</span>" +
            '<div class="text-muted text-break">' + escape(s.url) + " · " + escape(s.detail) +
            (s.latency_ms != null ? " · " + s.latency_ms + " ms" : "") + "</div>");
        }).join("");
      })
      .catch(function (error) {
        list.innerHTML = item('<span class="text-danger">Health check failed: ' + escape(error.message) +
          ". Reload the page to retry.</span>");
      });
  }

  if (typeof Chart !== "undefined" && Chart.platform) {
    Chart.platform.disableCSSInjection = true;  // Chart.min.css is linked instead (no inline styles needed)
  }
  // On a phone the menu starts folded away (the topbar's ☰ button opens it), as SB Admin 2 does on resize.
  function foldMenuOnPhones() {
    if (window.innerWidth < 480) {
      document.body.classList.add("sidebar-toggled");
      var sidebar = document.querySelector(".sidebar");
      if (sidebar) { sidebar.classList.add("toggled"); }
    }
  }

  document.addEventListener("DOMContentLoaded", function () { foldMenuOnPhones(); charts(); health(); });
})();
