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
