// Dossier page, progressive enhancements only: every form works without this file.
document.addEventListener("DOMContentLoaded", function () {
  // Ask before deleting a person, an event or a competitor.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });

  // A tender's outcome and reason: shown only while the event's kind is "tender".
  document.querySelectorAll("select[data-event-kind]").forEach(function (kind) {
    var form = kind.form;
    var tenderOnly = form.querySelectorAll("[data-tender-only]");
    function sync() {
      var isTender = kind.value === "tender";
      tenderOnly.forEach(function (input) {
        var field = input.closest(".field");
        var hasValue = input.value !== "";
        // Keep a field with a value (or an error) visible, so nothing is hidden that would be rejected.
        var keep = isTender || hasValue || (field && field.classList.contains("has-error"));
        if (field) { field.classList.toggle("is-hidden", !keep); }
      });
    }
    kind.addEventListener("change", sync);
    sync();
  });

  // Stop a double tap from saving the same entry twice.
  document.querySelectorAll("form.dossier-form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
});
