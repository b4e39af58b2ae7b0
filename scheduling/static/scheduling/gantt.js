// The planner's Gantt: drag a movable bar (operation or batch) along its row or onto another
// row; on drop the new start (snapped to 5 minutes) and resource are posted to the move URL.
// The server re-validates the whole schedule: 409 puts the bar back and shows the reason.
// No framework, no CDN; the move form under the chart does the same without JavaScript.
(function () {
  "use strict";
  var SNAP_MS = 5 * 60 * 1000;

  function message(text, level) {
    var box = document.getElementById("messages");
    if (!box) { return; }
    var div = document.createElement("div");
    div.className = "msg msg-" + (level || "error");
    div.setAttribute("role", level === "error" ? "alert" : "status");
    div.textContent = text;
    box.appendChild(div);
  }

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setup(gantt) {
    var url = gantt.dataset.moveUrl;
    if (!url || gantt.dataset.ready) { return; }
    gantt.dataset.ready = "1";
    var t0 = Date.parse(gantt.dataset.start);
    var span = Date.parse(gantt.dataset.end) - t0;
    var drag = null;

    gantt.addEventListener("pointerdown", function (ev) {
      var bar = ev.target.closest(".bar[data-movable]");
      if (!bar) { return; }
      var track = bar.parentElement;
      drag = { bar: bar, x0: ev.clientX, left0: parseFloat(bar.style.left), width: track.getBoundingClientRect().width, row: null };
      bar.classList.add("dragging");
      bar.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    });

    gantt.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      var dx = (ev.clientX - drag.x0) / drag.width * 100;
      drag.bar.style.left = Math.max(0, drag.left0 + dx) + "%";
      var under = document.elementsFromPoint(ev.clientX, ev.clientY)
        .map(function (el) { return el.closest(".gantt-row[data-resource]"); })
        .filter(Boolean)[0];
      gantt.querySelectorAll(".drop-target").forEach(function (r) { r.classList.remove("drop-target"); });
      if (under) { under.classList.add("drop-target"); drag.row = under; }
    });

    gantt.addEventListener("pointerup", function () {
      if (!drag) { return; }
      var d = drag;
      drag = null;
      d.bar.classList.remove("dragging");
      gantt.querySelectorAll(".drop-target").forEach(function (r) { r.classList.remove("drop-target"); });
      var pct = parseFloat(d.bar.style.left);
      if (Math.abs(pct - d.left0) < 0.05 && (!d.row || d.row === d.bar.closest(".gantt-row"))) {
        d.bar.style.left = d.left0 + "%";
        return;
      }
      var start = new Date(Math.round((t0 + pct / 100 * span) / SNAP_MS) * SNAP_MS);
      var body = new FormData();
      body.append("entry", d.bar.dataset.entry);
      body.append("start", start.toISOString());
      var origin = d.bar.closest(".gantt-row").dataset.resource;
      if (d.row && d.row.dataset.resource !== origin) { body.append("resource", d.row.dataset.resource); }
      fetch(url, { method: "POST", body: body, credentials: "same-origin",
                   headers: { "X-CSRFToken": csrf(), "Accept": "application/json" } })
        .then(function (resp) { return resp.json().then(function (data) { return { ok: resp.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok) {
            d.bar.style.left = d.left0 + "%";
            message("Move refused: " + (res.data.detail || "invalid"), "error");
            return;
          }
          window.location.reload();
        })
        .catch(function () { d.bar.style.left = d.left0 + "%"; message("The move could not be sent.", "error"); });
    });
  }

  function init() { document.querySelectorAll("[data-gantt]").forEach(setup); }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSwap", init);
})();
