// Codex Cockpit in a browser: what the page adds to textual-serve's terminal.
// - A notification when the cockpit waits for a person (a decision card, Codex's approval): the app
//   sends ["cockpit_notify", {title, body}] over the page's WebSocket. Shown with the browser's
//   Notification API where the page may (a secure context such as http://127.0.0.1, and permission,
//   asked for at the first key or click), and always as a mark in the tab's title until the tab is seen.
// - A question before the tab closes while the cockpit runs (ctrl+w is a browser's "close tab").
(function () {
  "use strict";
  const BaseSocket = window.WebSocket;
  const title = document.title;
  let open = 0;
  let waiting = 0;

  function markTitle() {
    document.title = waiting > 0 ? `(${waiting}) ${title}: waits for you` : title;
  }

  function notify(note) {
    if (document.hidden || !document.hasFocus()) {
      waiting += 1;
      markTitle();
    }
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const shown = new Notification(note.title || title, { body: note.body || "", tag: note.body || "" });
        shown.onclick = () => { window.focus(); shown.close(); };
      } catch (error) {
        console.log("cockpit: no notification", error);
      }
    }
  }

  function seen() {
    if (!document.hidden && document.hasFocus() && waiting > 0) {
      waiting = 0;
      markTitle();
    }
  }

  function askPermission() {
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    window.removeEventListener("keydown", askPermission, true);
    window.removeEventListener("pointerdown", askPermission, true);
  }

  class CockpitSocket extends BaseSocket {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener("open", () => { open += 1; });
      this.addEventListener("close", () => { open = Math.max(0, open - 1); });
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        let message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (Array.isArray(message) && message[0] === "cockpit_notify" && message[1]) notify(message[1]);
      });
    }
  }
  window.WebSocket = CockpitSocket;

  window.addEventListener("keydown", askPermission, true);
  window.addEventListener("pointerdown", askPermission, true);
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", seen);
  window.addEventListener("beforeunload", (event) => {
    if (open > 0) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  window.addEventListener("DOMContentLoaded", () => {
    document.getElementById("restart").addEventListener("click", () => { window.location.replace("/"); });
  });
})();
