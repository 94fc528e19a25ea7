// Progressive enhancement only: every page works without this file.
// In a ranking (1st, 2nd, 3rd choice boxes), a visit chosen in one box is disabled in
// the others, so nobody ranks the same visit twice; the server checks it anyway.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
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
});
