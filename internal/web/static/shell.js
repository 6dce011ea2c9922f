// The organization switcher goes to the chosen organization as soon as it
// is chosen; without JavaScript its Switch button does the same.
document.querySelectorAll("form.org-switcher").forEach(function (form) {
  var select = form.querySelector("select");
  form.classList.add("auto");
  select.addEventListener("change", function () {
    if (select.value) form.submit();
  });
});
