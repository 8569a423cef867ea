// The agents' live feed: htmx's WebSocket extension keeps the socket (and reconnects after a drop); this
// file makes it resumable and turns each event into a DOM event that pages listen to, e.g.
//   hx-trigger="crossdesk:message.created from:body"  or  document.body.addEventListener("crossdesk:typing", ...)
// The extension's own HTML swapping is not used: the socket carries JSON events (the same as API clients
// get), and each page fetches the HTML it needs.
(function () {
  "use strict";
  let lastId = null;
  htmx.createWebSocket = function (url) {
    return new WebSocket(lastId === null ? url : url + "?last_event_id=" + lastId);
  };
  function badge(key) {
    const el = document.getElementById("live");
    if (el) { el.textContent = el.dataset[key]; el.dataset.state = key; }
  }
  document.body.addEventListener("htmx:wsOpen", function () { badge("live"); });
  document.body.addEventListener("htmx:wsClose", function (e) {
    badge("reconnecting");
    const code = e.detail.event.code;
    // The extension retries abnormal closes itself; the server's "too slow" and "resume" closes
    // (4008, 4009) ask for a reconnect too: a fresh element makes the extension open a new socket.
    if (code === 4008 || code === 4009) {
      const old = document.getElementById("live");
      const fresh = old.cloneNode(true);
      old.replaceWith(fresh);
      setTimeout(function () { htmx.process(fresh); }, 500);
    }
  });
  document.body.addEventListener("htmx:wsBeforeMessage", function (e) {
    e.preventDefault();  // JSON, not HTML to swap
    const frame = JSON.parse(e.detail.message);
    if (frame.type === "hello") { lastId = frame.last_id; return; }
    if (frame.type === "reload") { location.reload(); return; }
    if (frame.id !== null && frame.id !== undefined) lastId = frame.id;
    document.body.dispatchEvent(new CustomEvent("crossdesk:" + frame.type, {detail: frame}));
    document.body.dispatchEvent(new CustomEvent("crossdesk:event", {detail: frame}));
  });
})();
