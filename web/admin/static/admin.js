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

// Passkeys: the security page's "Add a passkey" and the second factor
// page's "Use a passkey" run the WebAuthn ceremonies against the API, with
// the session's CSRF token from the page's forms. Without scripts, or
// without WebAuthn, the buttons stay hidden and codes still work.
(function () {
  "use strict";
  var add = document.getElementById("add-passkey");
  var use = document.getElementById("use-passkey");
  if ((!add && !use) || !window.fetch || !window.PublicKeyCredential) {
    return;
  }
  var csrfInput = document.querySelector('input[name="csrf"]');
  var csrf = csrfInput ? csrfInput.value : "";
  var status = document.getElementById("passkey-status");

  function b64ToBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }
  function bytesToB64(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) {
          throw new Error(j.error ? j.error.message : "HTTP " + r.status);
        }
        return j;
      });
    });
  }
  function say(text, failed) {
    if (status) {
      status.textContent = text;
      status.className = failed ? "error" : "meta";
    }
  }

  if (add) {
    add.hidden = false;
    add.addEventListener("click", function () {
      var name = document.getElementById("passkey-name");
      say("Waiting for your passkey…");
      post("/api/v1/me/passkeys/begin").then(function (o) {
        var pk = o.publicKey;
        pk.challenge = b64ToBytes(pk.challenge);
        pk.user.id = b64ToBytes(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) { c.id = b64ToBytes(c.id); });
        return navigator.credentials.create({publicKey: pk});
      }).then(function (c) {
        var body = {id: c.id, rawId: bytesToB64(c.rawId), type: c.type, response: {
          clientDataJSON: bytesToB64(c.response.clientDataJSON),
          attestationObject: bytesToB64(c.response.attestationObject)}};
        return post("/api/v1/me/passkeys?name=" + encodeURIComponent(name ? name.value : ""), body);
      }).then(function (j) {
        var next = add.getAttribute("data-next") || "/admin/security";
        if (j.recovery_codes && j.recovery_codes.length) {
          // Shown once, by the page, from the server's answer.
          var list = document.getElementById("passkey-codes");
          list.hidden = false;
          var ul = list.querySelector("ul");
          j.recovery_codes.forEach(function (code) {
            var li = document.createElement("li");
            var el = document.createElement("code");
            el.setAttribute("data-testid", "recovery-code");
            el.textContent = code;
            li.appendChild(el);
            ul.appendChild(li);
          });
          say("Passkey added.");
          return;
        }
        location.href = next;
      }).catch(function (e) {
        say("The passkey was not added: " + e.message, true);
      });
    });
  }

  if (use) {
    use.hidden = false;
    use.addEventListener("click", function () {
      say("Waiting for your passkey…");
      post("/api/v1/login/passkey/begin").then(function (o) {
        var pk = o.publicKey;
        pk.challenge = b64ToBytes(pk.challenge);
        (pk.allowCredentials || []).forEach(function (c) { c.id = b64ToBytes(c.id); });
        return navigator.credentials.get({publicKey: pk});
      }).then(function (c) {
        var r = c.response;
        return post("/api/v1/login/passkey", {id: c.id, rawId: bytesToB64(c.rawId), type: c.type, response: {
          clientDataJSON: bytesToB64(r.clientDataJSON), authenticatorData: bytesToB64(r.authenticatorData),
          signature: bytesToB64(r.signature), userHandle: r.userHandle ? bytesToB64(r.userHandle) : ""}});
      }).then(function () {
        location.href = use.getAttribute("data-next") || "/admin";
      }).catch(function (e) {
        say("The passkey did not sign you in: " + e.message, true);
      });
    });
  }
})();
