// The organization switcher goes to the chosen organization as soon as it
// is chosen; without JavaScript its Switch button does the same.
document.querySelectorAll("form.org-switcher").forEach(function (form) {
  var select = form.querySelector("select");
  form.classList.add("auto");
  select.addEventListener("change", function () {
    if (select.value) form.submit();
  });
});

// On a narrow screen the organization's sections scroll sideways: bring
// the current one into view.
document.querySelectorAll(".org-nav").forEach(function (nav) {
  var current = nav.querySelector("[aria-current]");
  if (!current) return;
  var overflow = current.getBoundingClientRect().right - nav.getBoundingClientRect().right;
  if (overflow > 0) nav.scrollLeft += overflow + 16;
});

// A Copy button beside a value shown once (a new API key) copies it; the
// button stays hidden where there is no script or no clipboard.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.dataset.copy);
  if (!field || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = "Copied";
    }, function () {
      field.select();
    });
  });
});
