// Captive page: poll the payment's progress, then go to the done page; there, sign the device in on the hotspot.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  var login = document.getElementById("hotspot-login");
  if (login) {
    // The button stays for browsers that block the automatic submit.
    window.setTimeout(function () { login.submit(); }, 1500);
  }
  if (!box) { return; }
  var stage = box.querySelector("[data-test=stage]");
  var message = box.querySelector("[data-test=message]");
  var titles = { paying: "Waiting for M-Pesa", switching_on: "Paid: switching you on", failed: "Payment not completed",
                 router_failed: "Paid: not connected yet" };
  var tries = 0;

  function show(data) {
    stage.textContent = titles[data.stage] || "Connected";
    message.textContent = data.message.charAt(0).toUpperCase() + data.message.slice(1) + ".";
  }

  function poll() {
    tries += 1;
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.status !== "200") { throw new Error(data.message); }
        show(data);
        if (data.stage === "connected") { window.location.assign(box.dataset.doneUrl); return; }
        if (data.stage === "router_failed") {
          box.querySelector("[data-test=spinner]").classList.add("d-none");
          return;
        }
        if (data.stage === "failed") {
          box.querySelector("[data-test=spinner]").classList.add("d-none");
          box.querySelector("[data-test=retry]").classList.remove("d-none");
          box.classList.add("border-danger");
          message.textContent += " Nothing was added to your account.";
          return;
        }
        window.setTimeout(poll, tries < 30 ? 1000 : 3000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();
