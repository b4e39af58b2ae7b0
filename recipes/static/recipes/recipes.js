// Version editor: keep open phase cards open when HTMX re-renders the tree, and flash a saved row.
(function () {
  "use strict";
  var KEY = "recipes.openPhases";

  function load() {
    try { return JSON.parse(window.sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(ids) {
    try { window.sessionStorage.setItem(KEY, JSON.stringify(ids)); } catch (e) { /* private mode */ }
  }
  function remember(details) {
    var id = details.id;
    var ids = load().filter(function (x) { return x !== id; });
    if (details.open) { ids.push(id); }
    save(ids.slice(-200));
  }
  function restore(root) {
    load().forEach(function (id) {
      var el = (root || document).querySelector("details#" + id);
      if (el) { el.open = true; }
    });
    (root || document).querySelectorAll("details.rcp-phase[open]").forEach(remember);
  }

  document.addEventListener("toggle", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("details.rcp-phase")) { remember(el); }
  }, true);
  document.addEventListener("htmx:load", function (event) { restore(event.target); });
  document.addEventListener("DOMContentLoaded", function () { restore(document); });
})();
