// Progressive enhancement only: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // In a ranking (1st, 2nd, 3rd choice boxes), a visit chosen in one box is disabled
  // in the others, so nobody ranks the same visit twice; the server checks it anyway.
  document.querySelectorAll("[data-ranking]").forEach(function (ranking) {
    var boxes = Array.prototype.slice.call(ranking.querySelectorAll("select"));
    function refresh() {
      var chosen = boxes.map(function (box) { return box.value; });
      boxes.forEach(function (box, index) {
        Array.prototype.forEach.call(box.options, function (option) {
          option.disabled = option.value !== "" &&
            chosen.some(function (value, other) { return other !== index && value === option.value; });
        });
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", refresh); });
    refresh();
  });

  // A form shown again with errors: focus the summary, and let its links put the
  // cursor in the field they name (a plain link only scrolls there).
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (field) {
          event.preventDefault();
          field.focus();
          field.scrollIntoView({ block: "center" });
        }
      });
    });
  }
});
