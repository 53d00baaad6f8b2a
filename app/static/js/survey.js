/* ProcessLens survey: progressive enhancement only. Every page works without this file.
 *
 * - Autosave: shortly after a change, the page form is posted to its own address with
 *   action=autosave and answered with JSON (the same server code as the buttons). The form's
 *   version is updated after each save, so the buttons never conflict with our own saves.
 * - Display conditions: the save's answer lists the questions hidden by the answers so far.
 * - "Saved" state in a polite live region; errors shown next to their question.
 * - Copy buttons for the personal link; focus on the error summary; one submit per click.
 */
(function () {
  "use strict";

  var CHANGE_DELAY = 800; // ms after a click on an option
  var TYPING_DELAY = 1500; // ms after the last key in a text field

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  /* ---------------------------------------------------------------- copy buttons */

  function setUpCopyButtons() {
    $all("[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      var status = $("[data-copy-status]", button.closest("section, details") || document);
      if (!input) {
        return;
      }
      button.hidden = false;
      button.addEventListener("click", function () {
        var done = function () {
          if (status) {
            status.textContent = "Link copied.";
          }
        };
        input.select();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done, function () {
            document.execCommand("copy");
            done();
          });
        } else {
          document.execCommand("copy");
          done();
        }
      });
    });
  }

  /* ---------------------------------------------------------------- autosave */

  function setUpAutosave(form) {
    var status = $("[data-save-status]", form);
    var versionInput = form.querySelector("input[name=version]");
    var baseInput = form.querySelector("input[name=base]");
    var csrfInput = form.querySelector("input[name=csrf_token]");
    var timer = null;
    var inflight = null;
    var lastSaved = serialise();
    var submitting = false;

    function serialise() {
      var data = new FormData(form);
      data.delete("version");
      data.delete("base");
      data.delete("csrf_token");
      return new URLSearchParams(data).toString();
    }

    function say(text, state) {
      if (!status) {
        return;
      }
      status.textContent = text;
      status.setAttribute("data-state", state || "");
    }

    function showErrors(errors) {
      $all("[data-qid]", form).forEach(function (question) {
        var qid = question.getAttribute("data-qid");
        var message = errors[qid];
        var box = $("[data-error]", question);
        var fieldset = $("fieldset", question);
        var errorId = question.id + "-error";
        var described = (fieldset.getAttribute("aria-describedby") || "")
          .split(" ")
          .filter(function (id) {
            return id && id !== errorId;
          });
        if (message) {
          $("[data-error-text]", box).textContent = message;
          box.hidden = false;
          described.unshift(errorId);
          question.classList.add("survey-question--error");
        } else if (box) {
          box.hidden = true;
          question.classList.remove("survey-question--error");
        }
        fieldset.setAttribute("aria-describedby", described.join(" "));
      });
    }

    function applyHidden(hidden) {
      $all("[data-qid]", form).forEach(function (question) {
        question.hidden = hidden.indexOf(question.getAttribute("data-qid")) !== -1;
      });
    }

    function applyProgress(answered, total) {
      var bar = $("[data-progress-bar]");
      var text = $("[data-progress-text]");
      if (bar) {
        bar.max = total;
        bar.value = answered;
      }
      if (text) {
        text.textContent = answered + " of " + total + " questions answered";
      }
    }

    function offerConflictPage() {
      say("Some of these answers were saved in another tab or on another device. ", "conflict");
      var button = document.createElement("button");
      button.type = "submit";
      button.name = "action";
      button.value = "save";
      button.className = "survey-link-button";
      button.textContent = "Compare both versions";
      status.appendChild(button);
    }

    function save() {
      clearTimeout(timer);
      timer = null;
      if (inflight) {
        return inflight.then(save);
      }
      var snapshot = serialise();
      if (snapshot === lastSaved) {
        return Promise.resolve(true);
      }
      var data = new FormData(form);
      data.set("action", "autosave");
      say("Saving\u2026", "saving");
      // getAttribute: the buttons named "action" shadow the form's own `action` property
      inflight = fetch(form.getAttribute("action"), {
        method: "POST",
        body: new URLSearchParams(data),
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          "X-CSRF-Token": csrfInput ? csrfInput.value : "",
        },
      })
        .then(function (response) {
          var retryAfter = parseInt(response.headers.get("Retry-After") || "0", 10);
          return response
            .json()
            .catch(function () {
              return {};
            })
            .then(function (body) {
              return { status: response.status, body: body, retryAfter: retryAfter };
            });
        })
        .then(function (result) {
          inflight = null;
          var body = result.body;
          if (result.status === 200 && body.saved) {
            versionInput.value = body.version;
            baseInput.value = JSON.stringify(body.base);
            lastSaved = snapshot;
            applyHidden(body.hidden || []);
            applyProgress(body.answered, body.total);
            showErrors({});
            say("Saved", "saved");
            return true;
          }
          if (result.status === 400 && body.errors) {
            showErrors(body.errors);
            say("Not saved yet: please check the question marked with an error.", "error");
          } else if (result.status === 409) {
            offerConflictPage();
          } else if (result.status === 429) {
            say("Saving is paused for a moment; your answers are still on this page.", "error");
            timer = setTimeout(save, Math.max(result.retryAfter, 5) * 1000);
          } else {
            say(body.detail || "Not saved. Use the buttons below to save this page.", "error");
          }
          return false;
        })
        .catch(function () {
          inflight = null;
          say("Not saved: the connection seems to be down. We will try again.", "error");
          timer = setTimeout(save, 5000);
          return false;
        });
      return inflight;
    }

    function schedule(delay) {
      if (submitting) {
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(save, delay);
    }

    form.addEventListener("change", function (event) {
      exclusiveChoices(event.target);
      schedule(CHANGE_DELAY);
    });
    form.addEventListener("input", function (event) {
      var target = event.target;
      if (target.tagName === "TEXTAREA" || target.type === "text" || target.type === "url") {
        schedule(TYPING_DELAY);
      }
    });

    // A button pressed while a save is due or under way waits for it, so the page is
    // posted with the version that save produced.
    form.addEventListener("submit", function (event) {
      if (submitting || (!timer && !inflight)) {
        submitting = true;
        return;
      }
      event.preventDefault();
      submitting = true;
      var submitter = event.submitter;
      save().then(function () {
        if (submitter && submitter.name) {
          var field = document.createElement("input");
          field.type = "hidden";
          field.name = submitter.name;
          field.value = submitter.value;
          form.appendChild(field);
        }
        HTMLFormElement.prototype.submit.call(form);
      });
    });

    // leaving the page (closing the tab, switching apps on a phone): save what is pending
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && timer && !submitting) {
        save();
      }
    });
  }

  /* "don't know" / "not applicable" and real options exclude each other in a multi-choice */
  function exclusiveChoices(input) {
    if (!input || input.type !== "checkbox" || !input.checked || !input.name) {
      return;
    }
    var special = input.value === "dont_know" || input.value === "not_applicable";
    $all('input[type=checkbox][name="' + input.name + '"]').forEach(function (other) {
      var otherSpecial = other.value === "dont_know" || other.value === "not_applicable";
      if (other !== input && (special || otherSpecial)) {
        other.checked = false;
      }
    });
  }

  /* ---------------------------------------------------------------- small things */

  function focusErrors() {
    var summary = document.getElementById("survey-errors");
    if (summary) {
      summary.focus();
    }
  }

  function submitOnce() {
    $all("[data-submit-once]").forEach(function (button) {
      var form = button.form;
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-sent")) {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-sent", "1");
        button.setAttribute("aria-disabled", "true");
      });
    });
  }

  function start() {
    setUpCopyButtons();
    $all("form[data-autosave]").forEach(setUpAutosave);
    focusErrors();
    submitOnce();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
