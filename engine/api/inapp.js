/*
 * Journey Builder in-app messages: one script tag shows a signed-in customer's in-app messages on any web page.
 *
 *   <script src="https://journeys.example.com/inapp.js" data-token="TOKEN_FROM_YOUR_BACKEND" async></script>
 *
 * data-token    the customer's token, signed by your backend with the workspace's in-app secret (docs/in-app.md)
 * data-api      where the inbox API is (default: where this file came from)
 * data-layout   "cards" (default: a stack in the bottom-right corner) or "modal" (the newest message, centred)
 * data-refresh  seconds between looks for new messages (default 30; 0: only when the page loads)
 *
 * Shown messages are marked read; the button records a click and opens its link in a new tab; x dismisses.
 * window.JourneyInApp.setToken(token) changes the customer (a single-page app after sign-in); .refresh() looks now.
 * No framework, no cookies: the token is the customer's only credential. Texts are shown as text, never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var settings = script.dataset;
  var token = settings.token || "";
  var api = (settings.api || new URL(script.src, location.href).origin).replace(/\/+$/, "") + "/inapp/v1";
  var layout = settings.layout === "modal" ? "modal" : "cards";
  var refresh = settings.refresh === undefined ? 30 : Number(settings.refresh);
  var shown = {};
  var timer = null;
  var host = document.createElement("div");
  host.setAttribute("data-journey-inapp", layout);
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" +
    ":host{all:initial}" +
    ".stack{position:fixed;right:16px;bottom:16px;z-index:2147483000;display:flex;flex-direction:column;gap:12px;" +
    "max-width:min(360px,calc(100vw - 32px));font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2330}" +
    ":host(.modal) .stack{inset:0;right:auto;bottom:auto;width:100vw;max-width:none;height:100vh;align-items:center;" +
    "justify-content:center;background:rgba(20,22,30,.45)}" +
    ".card{position:relative;background:#fff;border-radius:12px;padding:16px 40px 16px 16px;" +
    "box-shadow:0 8px 28px rgba(20,22,30,.18),0 1px 3px rgba(20,22,30,.12);border:1px solid #e6e8ef}" +
    ":host(.modal) .card{max-width:min(440px,calc(100vw - 48px));padding:24px 44px 24px 24px}" +
    ".title{font-weight:650;font-size:15px;margin:0 0 4px}" +
    ".body{margin:0;white-space:pre-line}" +
    ".button{display:inline-block;margin-top:12px;padding:8px 14px;border-radius:8px;background:#6e56cf;color:#fff;" +
    "text-decoration:none;font-weight:600;cursor:pointer}" +
    ".button:hover{background:#5b45b8}" +
    ".close{position:absolute;top:8px;right:8px;width:28px;height:28px;border:0;border-radius:6px;background:none;" +
    "color:#6b7080;font-size:18px;line-height:28px;cursor:pointer}" +
    ".close:hover{background:#f0f1f5}" +
    "</style><div class='stack' part='stack'></div>";
  var stack = root.querySelector(".stack");
  host.className = layout;

  function call(path, extra) {
    return fetch(api + path, {
      method: "POST",
      // text/plain keeps the call a CORS "simple" request: no preflight, and the token stays out of the URL.
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(Object.assign({ token: token }, extra || {})),
      keepalive: true,
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) throw new Error("in-app " + response.status + ": " + (answer.detail || ""));
        return answer;
      });
    });
  }

  function mark(message, action) {
    return call("/messages/" + message.id + "/" + action).catch(function (error) {
      console.warn("Journey Builder in-app:", error.message);
    });
  }

  function remove(card, id) {
    card.remove();
    delete shown[id];
    if (!stack.children.length) host.remove();
  }

  function card(message) {
    var element = document.createElement("div");
    element.className = "card";
    element.setAttribute("role", layout === "modal" ? "dialog" : "status");
    element.setAttribute("data-message-id", String(message.id));
    if (message.title) {
      var title = document.createElement("p");
      title.className = "title";
      title.textContent = message.title;
      element.appendChild(title);
    }
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = message.body;
    element.appendChild(body);
    if (message.button && /^https?:\/\//i.test(message.button.url)) {
      var button = document.createElement("a");
      button.className = "button";
      button.href = message.button.url;
      button.target = "_blank";
      button.rel = "noopener noreferrer";
      button.textContent = message.button.label;
      button.addEventListener("click", function () {
        mark(message, "clicked");
        remove(element, message.id);
      });
      element.appendChild(button);
    }
    var close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "\u00d7";
    close.addEventListener("click", function () {
      mark(message, "dismissed");
      remove(element, message.id);
    });
    element.appendChild(close);
    return element;
  }

  function show(messages) {
    var waiting = messages.filter(function (m) {
      return !m.clicked_at && !shown[m.id];
    });
    if (layout === "modal") waiting = stack.children.length ? [] : waiting.slice(0, 1);
    waiting.forEach(function (message) {
      shown[message.id] = true;
      stack.appendChild(card(message));
      if (!message.read_at) mark(message, "read");
    });
    if (stack.children.length && !host.isConnected) document.body.appendChild(host);
  }

  function look() {
    if (!token) return Promise.resolve();
    return call("/messages")
      .then(function (answer) {
        show(answer.messages);
      })
      .catch(function (error) {
        console.warn("Journey Builder in-app:", error.message);
      });
  }

  function schedule() {
    if (timer) clearInterval(timer);
    timer = refresh > 0 ? setInterval(look, refresh * 1000) : null;
  }

  window.JourneyInApp = {
    refresh: look,
    setToken: function (next) {
      token = next || "";
      shown = {};
      stack.textContent = "";
      host.remove();
      schedule();
      return look();
    },
  };
  schedule();
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", look);
  else look();
})();
