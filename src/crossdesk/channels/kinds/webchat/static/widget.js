// crossdesk chat widget: <script src="https://desk.example.com/widget/<key>.js" async></script>
// (or widget.js with data-key="<key>") on any shop page. Plain JS, no build step. It lives in a shadow
// root so that the shop's CSS and ours never meet, and it renders every text with textContent: what
// buyers and agents write is never parsed as HTML.
(function () {
  "use strict";
  const script = document.currentScript;
  if (!script) return;
  const src = new URL(script.src, location.href);
  const fromPath = src.pathname.match(/\/widget\/([A-Za-z0-9_-]+)\.js$/);
  const key = script.dataset.key || (fromPath && fromPath[1]);
  const flag = "__crossdeskWebchat_" + key;
  if (!key || window[flag]) return;
  window[flag] = true;

  const api = src.origin + "/widget/api/" + encodeURIComponent(key);
  const tokenKey = "crossdesk-webchat:" + key;
  const contactKey = "crossdesk-webchat-contact:" + key;
  const store = {
    get(k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode: this page only */ } },
    drop(k) { try { localStorage.removeItem(k); } catch (e) { /* nothing kept */ } },
  };

  let token = store.get(tokenKey);
  let contact = null; // the e-mail and name the visitor left, sent with each message
  try { contact = JSON.parse(store.get(contactKey) || "null"); } catch (e) { store.drop(contactKey); }
  let socket = null;
  let lastId = null;        // the last event id seen: a reconnect resumes after it
  let delay = 500;
  let typingSentAt = 0;
  let typingStop = null;
  let agentTypingTimer = null;
  const pending = new Map(); // ref -> frame, until the server says it is stored
  const shown = new Map();   // ref -> <li>
  const seen = new Set();    // refs of replies shown (acknowledged as delivered)
  const unread = new Set();  // refs of replies shown but not yet acknowledged as read
  const acks = {delivered: new Set(), read: new Set()}; // acknowledgements still to send
  let ackTimer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chatIcon() { // built node by node, like everything here
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
  }

  // ---- the DOM, in a shadow root ----
  const host = el("crossdesk-webchat"); // a custom element name: shop rules for div never match it
  host.setAttribute("data-crossdesk-webchat", key);
  const root = host.attachShadow({mode: "open"});
  const style = el("link");
  style.rel = "stylesheet";
  style.href = src.origin + "/widget/widget.css";
  const bubble = el("button", "bubble");
  bubble.type = "button";
  bubble.setAttribute("aria-label", "Open chat");
  bubble.append(chatIcon(), el("span", "badge"));
  const panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  const header = el("header");
  const title = el("h2", "title", "Chat");
  const close = el("button", "close", "\u00D7");
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  header.append(title, close);
  const list = el("ol", "messages");
  list.setAttribute("aria-live", "polite");
  const greeting = el("li", "greeting");
  list.append(greeting);
  const typing = el("p", "typing", "typing\u2026");
  typing.hidden = true;
  const status = el("p", "status");
  status.hidden = true;

  const contactBox = el("details", "contact");
  const contactSummary = el("summary", "", "Leave your e-mail so we can reply if you go");
  const contactForm = el("form");
  const email = el("input");
  email.type = "email";
  email.name = "email";
  email.required = true;
  email.placeholder = "you@example.com";
  email.autocomplete = "email";
  const name = el("input");
  name.name = "name";
  name.placeholder = "Your name (optional)";
  name.autocomplete = "name";
  const save = el("button", "", "Save");
  save.type = "submit";
  contactForm.append(email, name, save);
  contactBox.append(contactSummary, contactForm);

  const compose = el("form", "compose");
  const input = el("textarea");
  input.name = "text";
  input.rows = 1;
  input.maxLength = 4000;
  input.placeholder = "Write a message\u2026";
  input.setAttribute("aria-label", "Message");
  const send = el("button", "send", "Send");
  send.type = "submit";
  compose.append(input, send);
  panel.append(header, list, typing, status, contactBox, compose);
  root.append(style, bubble, panel);

  function mount() { document.body.append(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  // ---- showing messages ----
  function visible() { return !panel.hidden && document.visibilityState === "visible"; }

  function upsert(message, state) {
    let item = shown.get(message.ref);
    if (!item) {
      item = el("li", "message " + message.from);
      item.append(el("div", "text"), el("div", "meta"));
      shown.set(message.ref, item);
      list.append(item);
    }
    item.firstChild.textContent = message.text;
    const who = message.from === "visitor" ? "You" : message.from === "assistant" ? "Assistant" : "Agent";
    const when = message.at ? new Date(message.at).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}) : "";
    item.lastChild.textContent = state ? who + " \u00B7 " + state : [who, when].filter(Boolean).join(" \u00B7 ");
    item.classList.toggle("failed", state !== undefined && state.startsWith("not sent"));
    list.scrollTop = list.scrollHeight;
    if (message.from !== "visitor" && !seen.has(message.ref)) {
      seen.add(message.ref);
      acknowledge("delivered", message.ref);
      unread.add(message.ref);
      if (visible()) readAll(); else bubble.classList.add("unread");
    }
  }

  function acknowledge(state, ref) {
    acks[state].add(ref);
    clearTimeout(ackTimer);
    ackTimer = setTimeout(flushAcks, 200);
  }

  function flushAcks() { // batched; what cannot go now goes when the socket is back
    for (const state of ["delivered", "read"]) {
      const refs = [...acks[state]].slice(0, 100);
      if (refs.length && sendFrame({type: "ack", state: state, refs: refs})) refs.forEach((r) => acks[state].delete(r));
      if (acks[state].size && socket && socket.authed) ackTimer = setTimeout(flushAcks, 1000);
    }
  }

  function readAll() {
    for (const ref of unread) acknowledge("read", ref);
    unread.clear();
    bubble.classList.remove("unread");
  }

  function agentTyping(on) {
    typing.hidden = !on;
    clearTimeout(agentTypingTimer);
    if (on) agentTypingTimer = setTimeout(() => { typing.hidden = true; }, 8000);
  }

  function say(text) {
    status.hidden = !text;
    status.textContent = text || "";
  }

  // ---- the session and the socket ----
  async function session() {
    const headers = token ? {authorization: "Bearer " + token} : {};
    const response = await fetch(api + "/session", {method: "POST", headers: headers, mode: "cors"});
    if (response.status === 401 && token) {
      token = null;
      store.drop(tokenKey);
      return session();
    }
    if (!response.ok) throw new Error("session refused: " + response.status);
    const body = await response.json();
    token = body.token;
    store.set(tokenKey, token);
    title.textContent = body.config.title;
    panel.setAttribute("aria-label", body.config.title);
    greeting.textContent = body.config.greeting;
    greeting.hidden = !body.config.greeting;
    host.style.setProperty("--accent", body.config.accent);
  }

  function sendFrame(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN || !socket.authed) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    const query = lastId === null ? "" : "?last_event_id=" + lastId;
    const ws = new WebSocket(api.replace(/^http/, "ws") + "/ws" + query);
    socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({type: "auth", token: token}));
      ws.authed = true;
      delay = 500;
      say("");
      for (const frame of pending.values()) ws.send(JSON.stringify(frame)); // stored once by client id
      flushAcks();
    };
    ws.onmessage = function (event) { receive(JSON.parse(event.data)); };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      if (event.code === 4401) { // the token was refused: start over with a new one
        token = null;
        store.drop(tokenKey);
        start();
        return;
      }
      say("Reconnecting\u2026");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function receive(frame) {
    if (frame.type === "hello" || frame.type === "reload") { lastId = frame.last_id; return; }
    if (frame.type === "thread") { frame.messages.forEach((m) => upsert(m)); return; }
    if (frame.type === "stored") { pending.delete(frame.ref); return; }
    if (frame.type === "error") { refused(frame); return; }
    if (frame.id !== null && frame.id !== undefined) lastId = frame.id;
    if (frame.type === "message") {
      if (frame.data.from !== "visitor") agentTyping(false);
      upsert(frame.data);
    } else if (frame.type === "typing") {
      agentTyping(frame.data.is_typing);
    }
  }

  function refused(frame) {
    const waiting = frame.ref && pending.get(frame.ref);
    if (!waiting) { say(frame.reason); return; }
    if (frame.status === 429) { // too fast: the same message again later, still stored once
      upsert({ref: frame.ref, from: "visitor", text: waiting.text}, "waiting\u2026");
      setTimeout(() => { if (pending.has(frame.ref)) sendFrame(pending.get(frame.ref)); }, (frame.retry_after || 2) * 1000);
      return;
    }
    pending.delete(frame.ref);
    upsert({ref: frame.ref, from: "visitor", text: waiting.text}, "not sent: " + frame.reason);
  }

  async function start() {
    try {
      await session();
      connect();
    } catch (e) {
      say("Chat is unavailable right now.");
      setTimeout(start, Math.min((delay *= 2), 30000));
    }
  }

  // ---- what the visitor does ----
  function newId() {
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function browserLanguage() {
    const lang = (navigator.language || "").trim();
    return /^[a-z]{2,3}(-[A-Za-z]{2,4})?$/.test(lang) ? lang : undefined;
  }

  compose.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const frame = {type: "message", client_id: newId(), text: text, language: browserLanguage()};
    if (contact) { frame.email = contact.email; if (contact.name) frame.name = contact.name; }
    pending.set(frame.client_id, frame);
    upsert({ref: frame.client_id, from: "visitor", text: text}, "sending\u2026");
    sendFrame(frame); // if the socket is down, it goes when it is back
    input.value = "";
    stopTyping();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); compose.requestSubmit(); }
  });

  input.addEventListener("input", function () {
    const now = Date.now();
    if (now - typingSentAt > 3000 && sendFrame({type: "typing", is_typing: true})) typingSentAt = now;
    clearTimeout(typingStop);
    typingStop = setTimeout(stopTyping, 4000);
  });

  function stopTyping() {
    clearTimeout(typingStop);
    if (typingSentAt) sendFrame({type: "typing", is_typing: false});
    typingSentAt = 0;
  }

  contactForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!email.checkValidity()) return;
    contact = {email: email.value.trim(), name: name.value.trim() || undefined};
    store.set(contactKey, JSON.stringify(contact));
    contactSummary.textContent = "Thanks! We will reply to " + contact.email;
    contactBox.open = false;
  });
  if (contact) { email.value = contact.email; name.value = contact.name || ""; }

  function toggle(open) {
    panel.hidden = !open;
    bubble.setAttribute("aria-expanded", String(open));
    if (open) { readAll(); input.focus(); }
  }
  bubble.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => toggle(false));
  document.addEventListener("visibilitychange", () => { if (visible()) readAll(); });

  start();
})();
