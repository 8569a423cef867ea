// The conversation page: who else is here (viewing, typing), the composer's keys, macros, @mentions and
// the page's keyboard shortcuts. Data from others is put on the page with textContent only.
(function () {
  "use strict";
  const root = document.getElementById("conversation");
  if (!root) return;
  const id = Number(root.dataset.id);
  const me = Number(root.dataset.me);
  const names = JSON.parse(document.getElementById("agent-names").textContent);
  const csrf = JSON.parse(document.querySelector(".app").getAttribute("hx-headers"))["x-csrf-token"];
  const VIEW_EVERY_MS = 20000, VIEW_EXPIRES_MS = 45000, TYPING_EXPIRES_MS = 8000, TYPING_EVERY_MS = 3000;
  const viewers = new Map();  // agent id -> expiry (ms)
  const typers = new Map();

  function post(path, body, keepalive) {
    return fetch("/api/v1/conversations/" + id + path, {
      method: "POST", keepalive: !!keepalive, credentials: "same-origin",
      headers: {"content-type": "application/json", "x-csrf-token": csrf},
      body: JSON.stringify(body),
    });
  }
  const nameOf = (agentId) => names[String(agentId)] || "#" + agentId;
  const label = (key, name) => root.dataset[key].replace("{name}", name);

  // --- presence: viewing and typing ----------------------------------------------------------------
  function drawPresence() {
    const now = Date.now();
    for (const map of [viewers, typers]) for (const [k, t] of map) if (t < now) map.delete(k);
    const box = document.getElementById("presence");
    box.replaceChildren();
    for (const agentId of viewers.keys()) {
      const p = document.createElement("p");
      p.className = typers.has(agentId) ? "typing" : "viewing";
      p.textContent = label(typers.has(agentId) ? "typingLabel" : "viewingLabel", nameOf(agentId));
      box.append(p);
    }
    for (const agentId of typers.keys()) {
      if (viewers.has(agentId)) continue;
      const p = document.createElement("p");
      p.className = "typing";
      p.textContent = label("typingLabel", nameOf(agentId));
      box.append(p);
    }
  }
  function heartbeat() { post("/viewing", {viewing: true}); }
  // The first beat goes once our socket is open, so that the others' answering beats reach us.
  if (document.getElementById("live").dataset.state === "live") heartbeat();
  setInterval(heartbeat, VIEW_EVERY_MS);
  setInterval(drawPresence, 2000);
  window.addEventListener("pagehide", function () { post("/viewing", {viewing: false}, true); });
  // On (re)connecting, say it (again: an earlier beat may have been missed).
  document.body.addEventListener("htmx:wsOpen", heartbeat);

  document.body.addEventListener("crossdesk:presence", function (e) {
    const d = e.detail.data;
    if (d.agent_id === me || d.agent_id === null) return;
    if (d.online === false) { viewers.delete(d.agent_id); typers.delete(d.agent_id); }
    else if (d.conversation_id === id && d.viewing === true) {
      // A newcomer learns at once that we are here too (not after our next heartbeat).
      if (!viewers.has(d.agent_id)) heartbeat();
      viewers.set(d.agent_id, Date.now() + VIEW_EXPIRES_MS);
    } else if (d.conversation_id === id && d.viewing === false) { viewers.delete(d.agent_id); typers.delete(d.agent_id); }
    drawPresence();
  });
  document.body.addEventListener("crossdesk:typing", function (e) {
    const d = e.detail.data;
    if (d.conversation_id !== id || d.customer || d.agent_id === me || d.agent_id === null) return;
    if (d.is_typing) typers.set(d.agent_id, Date.now() + TYPING_EXPIRES_MS); else typers.delete(d.agent_id);
    drawPresence();
  });
  document.body.addEventListener("crossdesk:message.created", function (e) {
    const m = e.detail.data.message;
    if (m.author_agent_id && m.conversation_id === id) { typers.delete(m.author_agent_id); drawPresence(); }
    const mentions = (m.meta && m.meta.mentions) || [];
    if (m.conversation_id !== id && mentions.indexOf(me) !== -1) {
      const a = document.createElement("a");
      a.href = "/conversations/" + Number(m.conversation_id);
      a.textContent = root.dataset.mentionedLabel.replace("{id}", String(Number(m.conversation_id)));
      const p = document.createElement("p");
      p.append(a);
      document.getElementById("mention-alerts").append(p);
    }
  });

  let typingSent = 0, typingStop = null;
  function typed() {
    if (Date.now() - typingSent > TYPING_EVERY_MS) { typingSent = Date.now(); post("/typing", {is_typing: true}); }
    clearTimeout(typingStop);
    typingStop = setTimeout(function () { typingSent = 0; post("/typing", {is_typing: false}); }, 4000);
  }

  // --- the composer ------------------------------------------------------------------------------
  const text = () => document.getElementById("composer-text");
  function setKind(kind) {
    const radio = document.querySelector('#composer input[name=kind][value="' + kind + '"]');
    radio.checked = true;
    document.getElementById("composer").classList.toggle("composer-note", kind === "note");
  }
  function insert(value) {
    const area = text();
    const start = area.selectionStart, end = area.selectionEnd;
    area.setRangeText(value, start, end, "end");
    area.focus();
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches("#composer input[name=kind]")) setKind(e.target.value);
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.id === "composer-text" && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      document.getElementById("composer").requestSubmit();
    }
  });
  document.addEventListener("input", function (e) {
    if (e.target.id !== "composer-text") return;
    typed();
    suggestMentions();
  });
  function scrollThread() {
    const thread = document.getElementById("thread");
    thread.scrollTop = thread.scrollHeight;
  }
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target.id === "thread") scrollThread();
  });
  // The composer is replaced after a send: the agent keeps typing in the new one.
  document.body.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail.requestConfig && /\/messages$/.test(e.detail.requestConfig.path)) text().focus();
  });
  scrollThread();

  // --- @mentions in notes ------------------------------------------------------------------------
  function suggestMentions() {
    const list = document.getElementById("mention-suggestions");
    const area = text();
    const before = area.value.slice(0, area.selectionStart);
    const match = /(^|[^\w])@([^@\n]{0,30})$/.exec(before);
    const note = document.querySelector("#composer input[name=kind][value=note]").checked;
    list.replaceChildren();
    if (!note || !match) { list.hidden = true; return; }
    const typedName = match[2].toLowerCase();
    for (const [agentId, name] of Object.entries(names)) {
      if (Number(agentId) === me || !name.toLowerCase().startsWith(typedName)) continue;
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "secondary";
      b.textContent = "@" + name;
      b.addEventListener("click", function () {
        area.setSelectionRange(area.selectionStart - match[2].length - 1, area.selectionStart);
        insert("@" + name + " ");
        list.hidden = true;
      });
      li.append(b);
      list.append(li);
    }
    list.hidden = list.children.length === 0;
  }

  // --- macros ------------------------------------------------------------------------------------
  const dialog = document.getElementById("macro-dialog");
  function openMacros() {
    dialog.showModal();
    const search = document.getElementById("macro-search");
    search.focus();
    htmx.trigger(search, "macro-open");
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("#macro-open")) openMacros();
    const choice = e.target.closest(".macro-choice");
    if (!choice) return;
    const error = document.getElementById("macro-error");
    error.textContent = "";
    fetch("/conversations/" + id + "/macros/" + Number(choice.dataset.macroId), {
      method: "POST", credentials: "same-origin", headers: {"x-csrf-token": csrf},
    }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function ([ok, body]) {
        if (!ok) { error.textContent = body.error || String(body.detail || ""); return; }
        dialog.close();
        insert(body.text);
      });
  });
  // Arrow keys walk the results from the search field.
  dialog.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const choices = Array.from(dialog.querySelectorAll(".macro-choice"));
    if (!choices.length) return;
    e.preventDefault();
    const at = choices.indexOf(document.activeElement);
    const next = e.key === "ArrowDown" ? Math.min(at + 1, choices.length - 1) : Math.max(at - 1, 0);
    choices[next].focus();
  });

  // --- shortcuts ---------------------------------------------------------------------------------
  const shortcuts = document.getElementById("shortcuts");
  document.getElementById("shortcuts-open").addEventListener("click", function () { shortcuts.showModal(); });
  function typingInField(target) {
    return target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]") !== null
      || document.querySelector("dialog[open]") !== null;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typingInField(e.target)) return;
    const go = (key) => { if (root.dataset[key]) location.href = "/conversations/" + Number(root.dataset[key]); };
    const actions = {
      "]": () => go("next"),
      "[": () => go("previous"),
      "a": () => document.getElementById("assign-me").click(),
      "e": () => document.getElementById("resolve").click(),
      "r": () => { setKind("reply"); text().focus(); },
      "n": () => { setKind("note"); text().focus(); },
      "m": openMacros,
      "?": () => shortcuts.showModal(),
    };
    if (actions[e.key]) { e.preventDefault(); actions[e.key](); }
  });
})();
