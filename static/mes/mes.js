// Shop-floor shell behaviour. No framework: a few listeners, all optional (pages work without JS).
//
// Scanner input: <input data-scan> inside a <form>. A barcode scanner "types" the code and then
// Enter; the input keeps the focus (so the next scan lands there even after a tap elsewhere on
// the page) and Enter submits its form once.
(function () {
  "use strict";

  var INTERACTIVE = "input, select, textarea, button, a[href], [contenteditable], [tabindex]";

  function scanInputs(root) {
    return Array.prototype.slice.call((root || document).querySelectorAll("input[data-scan]"));
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && !el.disabled;
  }

  function primaryScanInput() {
    var inputs = scanInputs(document).filter(visible);
    return inputs.length ? inputs[0] : null;
  }

  function submitScan(input) {
    var form = input.form;
    var code = input.value.trim();
    input.value = code;
    if (!form || !code || form.dataset.submitting === "1") {
      return;
    }
    form.dataset.submitting = "1";
    form.classList.add("is-busy");
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  function wireScanInput(input) {
    if (input.dataset.scanWired === "1") {
      return;
    }
    input.dataset.scanWired = "1";
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        submitScan(input);
      }
    });
    // Keep the focus: when it leaves for nothing in particular (a tap on the page, a message),
    // take it back; when the user chose another field or button, leave it there.
    input.addEventListener("blur", function () {
      window.setTimeout(function () {
        var active = document.activeElement;
        if (!active || active === document.body || !active.matches(INTERACTIVE)) {
          if (visible(input)) {
            input.focus({ preventScroll: true });
          }
        }
      }, 150);
    });
  }

  function initScan(root) {
    scanInputs(root).forEach(wireScanInput);
    var first = primaryScanInput();
    var active = document.activeElement;
    if (first && (!active || active === document.body)) {
      first.focus({ preventScroll: true });
    }
  }

  // A scanner that fires while nothing has the focus still reaches the scan box.
  document.addEventListener("keydown", function (event) {
    var active = document.activeElement;
    if (active && active !== document.body) {
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) {
      return;
    }
    var input = primaryScanInput();
    if (input) {
      input.focus({ preventScroll: true });
    }
  });

  // Gloved double taps must not record twice: a plain POST form submits once per page view
  // (add data-allow-resubmit to a form that downloads a file and stays on the page).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || (form.method || "").toLowerCase() !== "post" ||
        form.hasAttribute("hx-post") || form.hasAttribute("data-allow-resubmit")) {
      return;
    }
    if (form.dataset.submitted === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form").forEach(function (form) {
      delete form.dataset.submitted;
      delete form.dataset.submitting;
      form.classList.remove("is-busy");
    });
  });

  // Plant clock, in the plant's time zone (data-tz), ticking every second.
  function initClock() {
    var clock = document.querySelector("[data-clock]");
    if (!clock || typeof Intl === "undefined") {
      return;
    }
    var tz = clock.getAttribute("data-tz") || undefined;
    var timeEl = clock.querySelector("[data-clock-time]");
    var dateEl = clock.querySelector("[data-clock-date]");
    var timeFmt, dateFmt;
    try {
      timeFmt = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
      dateFmt = new Intl.DateTimeFormat("en-GB", { timeZone: tz, weekday: "short", day: "numeric", month: "short", year: "numeric" });
    } catch (e) {
      return; // unknown zone in this browser: keep the server-rendered time
    }
    function tick() {
      var now = new Date();
      if (timeEl) { timeEl.textContent = timeFmt.format(now); }
      if (dateEl) { dateEl.textContent = dateFmt.format(now).replace(/,/g, "") + " · " + tz; }
    }
    tick();
    window.setInterval(tick, 1000);
  }

  // HTMX: a refusal comes back as 4xx with HX-Retarget (see mes/middleware.py): show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:load", function (event) {
    initScan(event.target);
  });

  document.addEventListener("DOMContentLoaded", function () {
    initClock();
    initScan(document);
  });
})();
