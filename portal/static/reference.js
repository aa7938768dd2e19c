// The interactive API reference: Swagger UI (static/vendor/swagger-ui,
// vendored by scripts/vendor-renderer.sh) draws the API's OpenAPI document
// from /portal/apis/{id}/openapi.json. Without JavaScript, or if Swagger UI
// fails, the server-rendered tables stay. Swagger UI's own "Try it out"
// and "Authorize" are off: calls go through the portal's try-it console,
// which uses the developer's sandbox app.
(function () {
  "use strict";
  var app = document.getElementById("reference-app");
  var ui = document.getElementById("reference-ui");
  var plain = document.getElementById("server-reference");
  var toggle = document.getElementById("reference-toggle");
  var status = document.getElementById("reference-status");
  if (!app || !ui || !plain || typeof window.SwaggerUIBundle !== "function") return;

  var hidden = function () { return function () { return null; }; };
  var drawn = false;

  function showPlain(yes) {
    plain.hidden = !yes;
    ui.hidden = yes;
    toggle.textContent = toggle.getAttribute(yes ? "data-rich" : "data-plain");
  }

  app.hidden = false;
  ui.hidden = true;
  toggle.hidden = true;
  toggle.addEventListener("click", function () { showPlain(plain.hidden); });
  // The operations list links to the tables: show them first.
  Array.prototype.forEach.call(document.querySelectorAll('.toc a[href^="#op-"]'), function (a) {
    a.addEventListener("click", function () { if (plain.hidden) showPlain(true); });
  });

  try {
    window.SwaggerUIBundle({
      url: app.getAttribute("data-spec-url"),
      domNode: ui,
      // No calls from the reference: no "Try it out", no validator badge
      // (which would fetch validator.swagger.io), no configuration from
      // the page's query string.
      supportedSubmitMethods: [],
      tryItOutEnabled: false,
      validatorUrl: null,
      queryConfigEnabled: false,
      deepLinking: false,
      // Every operation open, as in the tables: the page reads top to
      // bottom and the browser's find-in-page sees everything.
      docExpansion: "full",
      defaultModelsExpandDepth: 0,
      // The page above already shows the title, description and base
      // URLs, and tokens come from the try-it console, not a form here.
      plugins: [function () {
        return { wrapComponents: { InfoContainer: hidden, authorizeBtn: hidden, authorizeOperationBtn: hidden } };
      }],
      // The document is loaded: swap the tables for the drawing once its
      // operations show their responses (Swagger UI resolves them after
      // onComplete), so the reader never sees a half-drawn page.
      onComplete: function () {
        var swap = function () {
          if (drawn || !ui.querySelector(".opblock .responses-wrapper")) return;
          drawn = true;
          observer.disconnect();
          status.textContent = "";
          status.hidden = true;
          toggle.hidden = false;
          showPlain(false);
        };
        var observer = new MutationObserver(swap);
        observer.observe(ui, { childList: true, subtree: true });
        swap();
      }
    });
    // The document could not be read or drawn: say so; the tables stay.
    window.setTimeout(function () {
      if (!drawn) status.textContent = app.getAttribute("data-failed");
    }, 20000);
  } catch (e) {
    status.textContent = app.getAttribute("data-failed");
  }
})();
