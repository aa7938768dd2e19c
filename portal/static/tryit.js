// The try-it console with JavaScript: the portal checks the form and
// hands back the call with a five-minute sandbox token
// (POST …/try/prepare); the browser then sends it to the gateway's
// sandbox route on this same origin with fetch, and shows the answer.
// Without this file the form posts to the portal, which makes the call.
(function () {
  "use strict";
  var form = document.getElementById("try-form");
  if (!form || !window.fetch) return;
  var $ = function (id) { return document.getElementById(id); };

  // Choosing another sandbox customer: a field holding an account of a
  // customer (the options' data-accounts) gets the new customer's first
  // account, whose call the sandbox answers (another's is 404).
  var customer = $("try-customer");
  if (customer) customer.addEventListener("change", function () {
    var all = [], chosen = [];
    Array.prototype.forEach.call(customer.options, function (o) {
      var ids = (o.getAttribute("data-accounts") || "").split(" ").filter(Boolean);
      all = all.concat(ids);
      if (o.selected) chosen = ids;
    });
    if (!chosen.length) return;
    Array.prototype.forEach.call(form.querySelectorAll("input[name^='p.']"), function (f) {
      if (all.indexOf(f.value) >= 0 && chosen.indexOf(f.value) < 0) f.value = chosen[0];
    });
  });

  function show(r) {
    $("try-result").hidden = false;
    $("try-failed").hidden = !r.failed;
    $("try-failed").textContent = r.failed || "";
    $("try-request").textContent = r.request || "";
    $("try-status").textContent = r.status || "";
    $("try-headers").textContent = r.headers || "";
    $("try-body-out").textContent = r.body || "";
    $("try-truncated").hidden = true;
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var button = $("try-send"), label = button.textContent;
    button.disabled = true;
    button.textContent = form.getAttribute("data-sending");
    var done = function () { button.disabled = false; button.textContent = label; };
    fetch(form.action + "/prepare", {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.json();
    }).then(function (p) {
      if (p.errors && p.errors.length) {
        show({ failed: p.errors.join(" ") });
        return;
      }
      var init = { method: p.method, headers: p.headers, credentials: "omit", redirect: "manual" };
      if (p.body) init.body = p.body;
      var request = p.method + " " + new URL(p.url, location.href).href;
      return fetch(p.url, init).then(function (res) {
        return res.text().then(function (text) {
          var headers = [];
          res.headers.forEach(function (v, k) { headers.push(k + ": " + v); });
          headers.sort();
          show({
            request: request,
            status: res.status + " " + res.statusText,
            headers: headers.join("\n"),
            body: pretty(text)
          });
        });
      }, function () {
        // The call may have reached the gateway: never send it again.
        show({ request: request, failed: form.getAttribute("data-failed") });
      });
    }, function () {
      // The portal did not answer with a call to make (an expired form,
      // a page instead of JSON): post the form, the server explains.
      form.submit();
    }).then(done, done);
  });
})();
