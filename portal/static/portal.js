// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("button[data-copy]");
  if (!b || !navigator.clipboard) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (!el) return;
  navigator.clipboard.writeText(el.textContent).then(function () {
    b.textContent = b.getAttribute("data-copied");
  });
});
