/* Google Apps Synchronization: copy buttons, confirmations, busy buttons, live progress. */
(function () {
  "use strict";

  function copy(button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.focus();
      field.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected for Ctrl+C */ }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { copy(button); }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    var busy = form.getAttribute("data-busy");
    var button = form.querySelector("button[type=submit]");
    if (busy && button) {
      setTimeout(function () { button.disabled = true; button.textContent = busy; }, 0);
    }
  });

  function watch(panel) {
    var url = panel.getAttribute("data-status-url");
    var bar = document.getElementById("gs-bar");
    var done = document.getElementById("gs-done");
    var total = document.getElementById("gs-total");
    var phase = document.getElementById("gs-phase");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (status) {
          if (status.finished) { window.location.reload(); return; }
          if (status.total) {
            bar.style.width = Math.max(2, Math.round(100 * status.done / status.total)) + "%";
            total.textContent = status.total;
            phase.textContent = "Applying changes…";
          }
          done.textContent = status.done;
          setTimeout(poll, 500);
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  var panel = document.getElementById("gs-run");
  if (panel && panel.getAttribute("data-finished") === "no") { watch(panel); }
})();

/* Attribute mapping: a switched-off row is dimmed and says it is never touched in Google. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(".gs-mapping input[data-field]")) { return; }
    var row = input.closest("tr");
    if (row) { row.classList.toggle("gs-row-off", !input.checked); }
  });
})();
