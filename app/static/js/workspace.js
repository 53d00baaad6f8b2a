// ProcessLens workspace: copy buttons for invitation links and the reminder message.
//
// Progressive enhancement only: without this script the values are plain read-only fields
// (selected when focused) and the copy buttons stay hidden. No inline script, no eval: works
// under a Content-Security-Policy with script-src 'self'.
(function () {
  "use strict";

  function status(id, text) {
    var element = document.querySelector('[data-copy-status="' + id + '"]');
    if (element) {
      element.textContent = text;
    }
  }

  function fallbackCopy(field) {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var id = button.getAttribute("data-copy");
    var field = document.getElementById(id);
    if (!field) {
      return;
    }
    var done = function () {
      status(id, "Copied.");
    };
    var failed = function () {
      if (fallbackCopy(field)) {
        done();
      } else {
        status(id, "Could not copy: the text is selected, copy it with your keyboard.");
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      failed();
    }
  }

  function init() {
    var buttons = document.querySelectorAll("[data-copy]");
    for (var i = 0; i < buttons.length; i += 1) {
      buttons[i].hidden = false;
      buttons[i].addEventListener("click", function (event) {
        copy(event.currentTarget);
      });
    }
    var fields = document.querySelectorAll("[data-select-on-focus]");
    for (var j = 0; j < fields.length; j += 1) {
      fields[j].addEventListener("focus", function (event) {
        event.currentTarget.select();
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
