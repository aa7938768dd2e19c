// Pages opened from a mailed link (#token=…): move the token from the URL
// fragment, which no server ever sees, into the form, and drop it from the
// address bar and history. Without JavaScript the person pastes the code.
(function () {
  var m = /(?:^#|&)token=([A-Za-z0-9_-]{1,100})/.exec(location.hash);
  var field = document.getElementById("token");
  if (!m || !field) return;
  field.value = m[1];
  history.replaceState(null, "", location.pathname + location.search);
})();
