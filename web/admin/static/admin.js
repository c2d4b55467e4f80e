// Keeps the admin dashboard's checks current without reloading the page:
// every 5 seconds it asks /admin/live for the title, the summary and the
// table's rows (rendered, and escaped, by the server's own template) and
// swaps in what changed. Without scripts the page refreshes itself instead.
(function () {
  "use strict";
  var rows = document.getElementById("checks-body");
  if (!rows || !window.fetch) {
    return;
  }
  var summary = document.getElementById("summary");
  var downBox = document.getElementById("down-box");
  var state = document.getElementById("live-state");
  var every = 5000;
  var failures = 0;
  var last = null;
  var lastDown = null;
  var timer = 0;
  var busy = false;

  // replace swaps an element's content, keeping the focus on the same link
  // when it was inside.
  function replace(el, html) {
    var focused = document.activeElement;
    var href = focused && el.contains(focused) ? focused.getAttribute("href") : null;
    el.innerHTML = html;
    if (href) {
      var links = el.querySelectorAll("a[href]");
      for (var i = 0; i < links.length; i++) {
        if (links[i].getAttribute("href") === href) {
          links[i].focus();
          break;
        }
      }
    }
  }

  function say(text) {
    if (state) {
      state.textContent = text;
    }
  }

  function apply(d) {
    document.title = d.title;
    if (d.rows !== last) {
      replace(rows, d.rows);
      last = d.rows;
    }
    if (downBox && d.down_html !== lastDown) {
      replace(downBox, d.down_html);
      lastDown = d.down_html;
    }
    if (summary && summary.textContent !== d.summary) {
      summary.textContent = d.summary;
    }
    if (summary) {
      summary.classList.toggle("has-down", d.down > 0);
    }
    var count = document.getElementById("nav-checks");
    if (count) {
      var badge = count.querySelector(".count");
      if (d.down > 0) {
        if (!badge) {
          badge = document.createElement("span");
          badge.className = "count";
          badge.setAttribute("data-testid", "nav-checks-count");
          count.appendChild(document.createTextNode(" "));
          count.appendChild(badge);
        }
        badge.textContent = String(d.down);
        var sr = document.createElement("span");
        sr.className = "sr";
        sr.textContent = " down";
        badge.appendChild(sr);
      } else if (badge) {
        badge.remove();
      }
    }
    say("Updated " + new Date(d.updated_at).toISOString().slice(11, 19) + " UTC; updates every 5 seconds.");
  }

  function tick() {
    if (busy) {
      return;
    }
    if (document.hidden) {
      schedule();
      return;
    }
    busy = true;
    fetch("/admin/live", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        var type = res.headers.get("Content-Type") || "";
        if (res.redirected || res.status === 401 || type.indexOf("application/json") !== 0) {
          throw new Error("signed out");
        }
        if (!res.ok) {
          throw new Error("the server answered " + res.status);
        }
        return res.json();
      })
      .then(function (d) {
        busy = false;
        failures = 0;
        apply(d);
        schedule();
      })
      .catch(function (err) {
        busy = false;
        failures++;
        if (err.message === "signed out") {
          say("Live updates stopped: you are signed out. Reload the page to sign in.");
          return;
        }
        say("Live updates paused (" + err.message + "); retrying.");
        schedule();
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(tick, every * Math.min(1 + failures, 6));
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      tick();
    }
  });
  last = rows.innerHTML;
  lastDown = downBox ? downBox.innerHTML : null;
  say("Updates every 5 seconds.");
  schedule();
})();
