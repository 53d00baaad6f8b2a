// ProcessLens workspace: copy buttons for invitation links and the reminder message, and the
// new-round form's team-survey fields hidden while "Just me" is chosen.
//
// Progressive enhancement only: without this script the values are plain read-only fields,
// the copy buttons stay hidden and every form field shows. No inline script, no eval: works
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

  function followMode() {
    var chosen = document.querySelector('input[name="mode"]:checked');
    var solo = chosen !== null && chosen.value === "solo";
    var parts = document.querySelectorAll("[data-survey-only]");
    for (var i = 0; i < parts.length; i += 1) {
      parts[i].hidden = solo;
    }
    // each kind's time for the chosen mode and stage (texts from app.surveys.estimate)
    var stage = document.querySelector('input[name="stage"]:checked');
    var key = (solo ? "solo" : "team_survey") + "|" + (stage ? stage.value : "");
    var times = document.querySelectorAll("[data-estimates]");
    for (var t = 0; t < times.length; t += 1) {
      var table = JSON.parse(times[t].getAttribute("data-estimates") || "{}");
      if (table[key]) {
        times[t].textContent = table[key];
      }
    }
  }

  function init() {
    var modes = document.querySelectorAll('input[name="mode"], input[name="stage"]');
    for (var m = 0; m < modes.length; m += 1) {
      modes[m].addEventListener("change", followMode);
    }
    if (modes.length) {
      followMode();
    }
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
