// Genealogy graph page: expand one more level / collapse everything. Each <details> loads
// its own children through HTMX the first time it opens (hx-trigger="toggle once").
(function () {
  "use strict";
  function tree() { return document.querySelector("[data-gen-tree]"); }
  document.addEventListener("click", function (event) {
    var root = tree();
    if (!root) { return; }
    if (event.target.closest("[data-gen-collapse]")) {
      root.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
    } else if (event.target.closest("[data-gen-expand]")) {
      // open the closed nodes whose parents are all open (the next visible level)
      var next = Array.prototype.filter.call(
        root.querySelectorAll("details:not([open])"),
        function (d) {
          var parent = d.parentElement.closest("details");
          return !parent || parent.open;
        }
      );
      next.forEach(function (d) { d.open = true; });
    }
  });
})();
