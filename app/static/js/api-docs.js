// Starts Swagger UI on /api/docs. A static file because the Content-Security-Policy allows no
// inline script; the bundle is vendored (static/vendor/swagger-ui), so nothing leaves the site.
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    var tokenInput = document.getElementById("api-token");
    var csrfToken = root.getAttribute("data-csrf-token") || "";
    window.SwaggerUIBundle({
      url: root.getAttribute("data-openapi-url"),
      domNode: root,
      deepLinking: true,
      validatorUrl: null, // the default badge would call a validator on another site
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: function (request) {
        var token = tokenInput ? tokenInput.value.trim() : "";
        if (token) {
          // a bearer token alone: without the cookie, no CSRF token is needed
          request.headers.Authorization = "Bearer " + token;
          request.credentials = "omit";
        } else if (csrfToken) {
          request.headers["X-CSRF-Token"] = csrfToken;
        }
        return request;
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
