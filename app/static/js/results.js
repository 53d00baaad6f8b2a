// ProcessLens results page: the details below the summary as tabs.
//
// Markup (templates/results/results.html): a <nav data-tabs> whose links point at the panels
// (<div data-tab-panel id="tab-...">). Without this script the links are a table of contents
// and every panel shows, one after the other. With it the links become an ARIA tablist: one
// panel shows at a time, arrow keys, Home and End move between tabs, and a link to anything
// inside a hidden panel (#handoff, #why-..., a form's return address) opens that panel
// first. No inline script, no eval: works under a Content-Security-Policy with script-src 'self'.
(function () {
  "use strict";

  var tabs = [];
  var panels = [];

  function panelOf(element) {
    while (element && !(element.hasAttribute && element.hasAttribute("data-tab-panel"))) {
      element = element.parentElement;
    }
    return element;
  }

  function targetOf(hash) {
    if (!hash || hash.length < 2) {
      return null;
    }
    try {
      return document.getElementById(decodeURIComponent(hash.slice(1)));
    } catch (error) {
      return null;
    }
  }

  function redraw(panel) {
    // charts drawn while their panel was hidden take the panel's width now
    var plots = panel.querySelectorAll(".js-plotly-plot");
    if (!plots.length || !window.Plotly || !window.Plotly.Plots) {
      return;
    }
    for (var i = 0; i < plots.length; i += 1) {
      window.Plotly.Plots.resize(plots[i]);
    }
  }

  function select(index, focus) {
    for (var i = 0; i < tabs.length; i += 1) {
      var selected = i === index;
      tabs[i].setAttribute("aria-selected", selected ? "true" : "false");
      tabs[i].tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    }
    if (focus) {
      tabs[index].focus();
    }
    redraw(panels[index]);
  }

  function open(target) {
    var panel = panelOf(target);
    var index = panels.indexOf(panel);
    if (index >= 0 && panel.hidden) {
      select(index, false);
    }
    return index >= 0;
  }

  function setUp(nav) {
    var links = nav.querySelectorAll("a[href^='#']");
    for (var i = 0; i < links.length; i += 1) {
      var panel = targetOf(links[i].getAttribute("href"));
      if (panel && panel.hasAttribute("data-tab-panel")) {
        tabs.push(links[i]);
        panels.push(panel);
      }
    }
    if (!tabs.length) {
      return;
    }
    var list = nav.querySelector("ul");
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", nav.getAttribute("aria-label") || "Details");
    for (var j = 0; j < tabs.length; j += 1) {
      tabs[j].parentElement.setAttribute("role", "presentation");
      tabs[j].setAttribute("role", "tab");
      tabs[j].id = tabs[j].id || "tab-link-" + panels[j].id;
      tabs[j].setAttribute("aria-controls", panels[j].id);
      panels[j].setAttribute("role", "tabpanel");
      panels[j].setAttribute("aria-labelledby", tabs[j].id);
      panels[j].tabIndex = 0;
    }
    nav.classList.add("ws-tabs--active");

    list.addEventListener("click", function (event) {
      var index = tabs.indexOf(event.target.closest("[role='tab']"));
      if (index < 0) {
        return;
      }
      event.preventDefault();
      select(index, false);
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", "#" + panels[index].id);
      }
    });
    list.addEventListener("keydown", function (event) {
      var index = tabs.indexOf(document.activeElement);
      if (index < 0) {
        return;
      }
      var next = {
        ArrowRight: index + 1,
        ArrowLeft: index - 1,
        Home: 0,
        End: tabs.length - 1,
      }[event.key];
      if (next === undefined) {
        return;
      }
      event.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });

    // a link elsewhere on the page to something in a hidden panel opens that panel first; the
    // browser then scrolls to it as usual
    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      if (link && !nav.contains(link)) {
        open(targetOf(link.getAttribute("href")));
      }
    });
    window.addEventListener("hashchange", function () {
      var target = targetOf(window.location.hash);
      if (target && open(target)) {
        target.scrollIntoView();
      }
    });

    var start = targetOf(window.location.hash);
    var first = start ? panels.indexOf(panelOf(start)) : -1;
    select(first >= 0 ? first : 0, false);
    if (first >= 0) {
      start.scrollIntoView();
    }
  }

  function init() {
    var nav = document.querySelector("[data-tabs]");
    if (nav) {
      setUp(nav);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
