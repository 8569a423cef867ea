// Resumable live feed: reconnects with the last event id it saw, so nothing is missed or repeated.
(function () {
  const badge = document.getElementById("live");
  const list = document.getElementById("events");
  let lastId = null;
  let delay = 500;
  function show(frame) {
    const li = document.createElement("li");
    const data = frame.data || {};
    const text = data.message ? data.message.text : JSON.stringify(data.conversation ? {id: data.conversation.id, status: data.conversation.status} : data);
    li.textContent = "#" + frame.id + " " + frame.type + ": " + text;  // textContent: buyer text is never HTML
    list.prepend(li);
    while (list.children.length > 100) list.lastChild.remove();
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = lastId === null ? "" : "?last_event_id=" + lastId;
    const socket = new WebSocket(scheme + "://" + location.host + "/api/v1/ws" + query);
    socket.onopen = function () { badge.textContent = "live"; delay = 500; };
    socket.onmessage = function (msg) {
      const frame = JSON.parse(msg.data);
      if (frame.type === "hello") { lastId = frame.last_id; return; }
      if (frame.type === "reload") { location.reload(); return; }
      if (frame.id !== null) lastId = frame.id;
      show(frame);
    };
    socket.onclose = function () {
      badge.textContent = "reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
})();
