// A refused booking comes back with its fields marked: the cursor goes to the first one to correct,
// or to the message when no field is at fault, so a keyboard or screen reader lands on the error.
(function () {
  var target = document.querySelector("form [aria-invalid=\"true\"]") || document.querySelector(".notice.error[role=alert]");
  if (!target) return;
  if (!target.matches("input, select, textarea")) target.setAttribute("tabindex", "-1");
  target.focus();
})();

(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var field = document.getElementById("timezone");
  if (zone && field.dataset.chosen !== "true") {
    field.value = zone;
    var hint = document.getElementById("zone-hint");
    if (hint) hint.textContent = "in " + zone + " time";
  }
  var date = document.getElementById("date"), time = document.getElementById("time");
  // A first visit gets a time a minute ahead; a form sent back with its errors keeps what was sent,
  // so that no field is filled in behind the message that says it was empty.
  if (!date.value && !time.value && !document.querySelector(".field-error")) {
    var soon = new Date(Date.now() + 60000), pad = function (n) { return String(n).padStart(2, "0"); };
    date.value = soon.getFullYear() + "-" + pad(soon.getMonth() + 1) + "-" + pad(soon.getDate());
    time.value = pad(soon.getHours()) + ":" + pad(soon.getMinutes()) + ":" + pad(soon.getSeconds());
  }
})();
