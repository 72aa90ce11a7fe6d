// Show only the builder section of the chosen experiment kind.
(function () {
  "use strict";
  function update() {
    var checked = document.querySelector('input[name="category"]:checked');
    var kind = checked ? checked.value : "train";
    document.querySelectorAll(".section").forEach(function (section) {
      section.hidden = section.dataset.category !== kind;
    });
  }
  document.querySelectorAll('input[name="category"]').forEach(function (input) {
    input.addEventListener("change", update);
  });
  update();
})();
