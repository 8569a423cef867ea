// The inbox: live rows (each conversation event fetches that row's HTML from /inbox/rows/{id} for this
// view: an answer replaces the row, or adds it on top, "Important first" keeping the marked customers'
// rows above the others; an empty answer removes it), ticking SLA clocks and
// buyers' local times, selection, and the keyboard (j/k, Enter/o, x, /). Buyer text only ever arrives as
// HTML the server escaped; this file writes text with textContent.
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const texts = JSON.parse(root.dataset.texts);
  const params = root.dataset.params;
  const firstPage = root.dataset.firstPage === "1";
  const rowsList = () => document.getElementById("rows");
  const rowOf = (id) => document.getElementById("c-" + id);
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));

  // --- Live rows -------------------------------------------------------------------------------------
  const queue = new Map(); // conversation id → its last refresh, so two events never race on one row
  function refresh(id, moveUp) {
    const previous = queue.get(id) || Promise.resolve();
    const next = previous.then(() => swapRow(id, moveUp)).catch(() => {});
    queue.set(id, next);
  }
  function swapRow(id, moveUp) {
    const list = rowsList();
    const existing = rowOf(id);
    if (!list || (!existing && !firstPage)) return Promise.resolve(); // older pages only update in place
    const was = existing && {
      checked: existing.querySelector(".sel").checked,
      focused: existing.contains(document.activeElement),
      current: existing.classList.contains("current"),
    };
    const url = "/inbox/rows/" + id + (params ? "?" + params : "");
    const swap = existing ? {target: existing, swap: "outerHTML"} : {target: list, swap: "afterbegin"};
    return htmx.ajax("GET", url, swap).then(() => {
      const row = rowOf(id);
      if (row && moveUp) moveToTop(list, row);
      if (row && was) {
        row.querySelector(".sel").checked = was.checked;
        row.classList.toggle("current", was.current);
        if (was.focused) row.querySelector("a.open").focus();
      }
      changed();
    });
  }
  // Newest activity goes on top; in "Important first" a row that is not important goes on top of the
  // rows that are not (below every important one).
  function moveToTop(list, row) {
    const below = root.dataset.sort === "important" && !row.classList.contains("important");
    const anchor = below
      ? Array.from(list.children).find((r) => r !== row && !r.classList.contains("important"))
      : list.firstElementChild;
    if (anchor === row) return;
    if (anchor) list.insertBefore(row, anchor); else list.appendChild(row);
  }
  const conversationId = (data) => (data.conversation ? data.conversation.id : data.id);
  document.body.addEventListener("crossdesk:message.created", (e) => {
    if (e.detail.data.conversation) refresh(e.detail.data.conversation.id, true);
  });
  document.body.addEventListener("crossdesk:conversation.created", (e) => refresh(conversationId(e.detail.data), true));
  document.body.addEventListener("crossdesk:conversation.updated", (e) => refresh(conversationId(e.detail.data), false));

  // --- Clocks ----------------------------------------------------------------------------------------
  function duration(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const hours = Math.floor(minutes / 60), days = Math.floor(minutes / 1440);
    if (days) return fill(texts.days, {d: days, h: hours % 24});
    if (hours) return fill(texts.hours, {h: hours, m: minutes % 60});
    return fill(texts.min, {m: minutes});
  }
  const SOON_MS = 30 * 60000;
  const formats = new Map();
  function localTime(zone) {
    if (!formats.has(zone)) {
      try {
        formats.set(zone, new Intl.DateTimeFormat(root.dataset.lang, {hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone}));
      } catch (err) { formats.set(zone, null); }
    }
    const format = formats.get(zone);
    return format ? format.format(new Date()) : null;
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("#rows .sla[data-due]").forEach((el) => {
      const left = Date.parse(el.dataset.due) - now;
      const over = left < 0;
      el.textContent = fill(texts[el.dataset.kind + (over ? "_over" : "_due")], {t: duration(Math.abs(left))});
      el.classList.toggle("overdue", over);
      el.classList.toggle("soon", !over && left <= SOON_MS);
      el.classList.toggle("ok", !over && left > SOON_MS);
    });
    document.querySelectorAll("#rows .local[data-tz]").forEach((el) => {
      const text = localTime(el.dataset.tz);
      if (text) el.textContent = text;
    });
  }
  setInterval(tick, 15000);

  // --- Selection -------------------------------------------------------------------------------------
  function changed() {
    const boxes = document.querySelectorAll("#rows .sel");
    const chosen = document.querySelectorAll("#rows .sel:checked").length;
    const count = document.getElementById("selected-count");
    if (count) count.textContent = chosen ? fill(texts.selected, {n: chosen}) : "";
    const all = document.getElementById("select-all");
    if (all) all.checked = boxes.length > 0 && chosen === boxes.length;
    const empty = document.getElementById("inbox-empty");
    if (empty) empty.hidden = boxes.length > 0;
  }
  document.addEventListener("change", (e) => {
    if (e.target.id === "select-all") {
      document.querySelectorAll("#rows .sel").forEach((box) => { box.checked = e.target.checked; });
    }
    if (e.target.id === "select-all" || e.target.classList.contains("sel")) changed();
  });
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target.id === "inbox-body" || e.target.id === "inbox-body") changed();
  });
  // Enter in the tag field adds the tag (the form's first button would otherwise assign).
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target.id === "bulk-tag") {
      e.preventDefault();
      document.getElementById("bulk-tag-button").click();
    }
  });

  // --- Keyboard --------------------------------------------------------------------------------------
  const TEXT_INPUTS = ["checkbox", "radio", "button", "submit", "reset"];
  function typing(el) {
    return el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
      (el.tagName === "INPUT" && !TEXT_INPUTS.includes(el.type));
  }
  const rows = () => Array.from(document.querySelectorAll("#rows > li.row"));
  const currentRow = () => document.querySelector("#rows > li.current");
  function setCurrent(row) {
    rows().forEach((r) => r.classList.toggle("current", r === row));
    row.querySelector("a.open").focus();
    row.scrollIntoView({block: "nearest"});
  }
  function move(step) {
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(currentRow());
    setCurrent(all[at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step))]);
  }
  document.addEventListener("focusin", (e) => {
    const row = e.target.closest && e.target.closest("#rows > li.row");
    if (row) rows().forEach((r) => r.classList.toggle("current", r === row));
  });
  document.addEventListener("keydown", (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    const row = currentRow();
    if (e.key === "j" || e.key === "k") {
      move(e.key === "j" ? 1 : -1);
    } else if (e.key === "x" && row) {
      const box = row.querySelector(".sel");
      box.checked = !box.checked;
      changed();
    } else if ((e.key === "o" || (e.key === "Enter" && !e.target.closest("a, button, input"))) && row) {
      window.location.href = row.querySelector("a.open").href;
    } else if (e.key === "/") {
      document.getElementById("inbox-q").focus();
    } else {
      return;
    }
    e.preventDefault();
  });
  changed();
})();
