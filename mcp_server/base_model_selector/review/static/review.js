// The review page's behaviour: filter and walk the responses, overrule a verdict, save the notes, re-render.
// Served as a file because the Content-Security-Policy allows no inline script. Text that came from the server
// is only ever set with textContent, never as HTML.
"use strict";

(function () {
  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));
  const model = document.body.dataset.model;
  const cards = $$("article.card");
  const rows = $$("#list li");
  const byId = new Map(cards.map((card) => [card.dataset.card, card]));
  const rowById = new Map(rows.map((row) => [row.dataset.card, row]));
  const filters = {
    status: $("#f-status"),
    criterion: $("#f-criterion"),
    cell: $("#f-cell"),
    error: $("#f-error"),
    truncated: $("#f-truncated"),
    overruled: $("#f-overruled"),
    text: $("#f-text"),
  };
  const STATE_KEY = "bms-review:" + location.pathname + ":" + model;
  const HASH = "#r/"; // #r/<scenario id> links to one response (not an element id: the browser must not jump)
  let selected = null;

  function linked() {
    const id = location.hash.startsWith(HASH) ? decodeURIComponent(location.hash.slice(HASH.length)) : null;
    return byId.has(id) ? id : null;
  }

  // ------------------------------------------------------------------ filtering
  function matches(card) {
    const d = card.dataset;
    if (filters.status.value && d.status !== filters.status.value) return false;
    if (filters.criterion.value && !d.failed.split(" ").includes(filters.criterion.value)) return false;
    if (filters.cell.value && d.cell !== filters.cell.value) return false;
    if (filters.error.checked && d.error !== "1") return false;
    if (filters.truncated.checked && d.truncated !== "1") return false;
    if (filters.overruled.checked && d.overruled !== "1") return false;
    const words = filters.text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length) {
      const haystack = card.textContent.toLowerCase();
      if (!words.every((word) => haystack.includes(word))) return false;
    }
    return true;
  }

  function visible() {
    return rows.filter((row) => !row.hidden).map((row) => row.dataset.card);
  }

  function apply() {
    let shown = 0;
    for (const card of cards) {
      const ok = matches(card);
      rowById.get(card.dataset.card).hidden = !ok;
      if (ok) shown += 1;
    }
    $("#f-count").textContent = shown + " of " + cards.length + " shown";
    const ids = visible();
    select(ids.includes(selected) ? selected : ids[0] || null, false);
    saveState();
  }

  function select(id, scroll) {
    selected = id;
    for (const card of cards) card.hidden = card.dataset.card !== id;
    for (const row of rows) {
      row.classList.toggle("selected", row.dataset.card === id);
      $("button.row", row).setAttribute("aria-current", row.dataset.card === id ? "true" : "false");
    }
    $("#no-match").hidden = id !== null;
    if (id !== null && scroll !== false) {
      rowById.get(id).scrollIntoView({ block: "nearest" });
      history.replaceState(null, "", HASH + encodeURIComponent(id));
    }
    saveState();
  }

  function step(delta) {
    const ids = visible();
    if (!ids.length) return;
    const at = ids.indexOf(selected);
    const next = at < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, at + delta));
    select(ids[next]);
    $("button.row", rowById.get(ids[next])).focus({ preventScroll: true });
  }

  function saveState() {
    const state = { selected: selected };
    for (const [name, el] of Object.entries(filters)) state[name] = el.type === "checkbox" ? el.checked : el.value;
    try {
      sessionStorage.setItem(STATE_KEY, JSON.stringify(state));
    } catch (e) {
      /* storage off: the page still works, it only forgets the filters on reload */
    }
  }

  function restoreState() {
    let state = null;
    try {
      state = JSON.parse(sessionStorage.getItem(STATE_KEY) || "null");
    } catch (e) {
      state = null;
    }
    if (state) {
      for (const [name, el] of Object.entries(filters)) {
        if (!(name in state)) continue;
        if (el.type === "checkbox") el.checked = Boolean(state[name]);
        else if (el.tagName !== "SELECT" || $$("option", el).some((o) => o.value === state[name])) el.value = state[name];
      }
    }
    selected = linked() || (state && byId.has(state.selected) ? state.selected : null);
  }

  function filterTo(settings) {
    filters.status.value = settings.status || "";
    filters.criterion.value = settings.criterion || "";
    filters.cell.value = settings.cell || "";
    filters.error.checked = filters.truncated.checked = filters.overruled.checked = false;
    filters.text.value = "";
    apply();
    $("#responses").scrollIntoView({ behavior: "smooth" });
  }

  for (const el of Object.values(filters)) el.addEventListener(el.type === "search" ? "input" : "change", apply);
  $("#f-clear").addEventListener("click", () => filterTo({}));
  for (const button of $$("#list button.row")) button.addEventListener("click", () => select(button.dataset.card));
  for (const bar of $$("svg .bar")) {
    const go = () => filterTo({ criterion: bar.dataset.criterion });
    bar.addEventListener("click", go);
    bar.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        go();
      }
    });
  }
  for (const cell of $$("button.cell-filter")) cell.addEventListener("click", () => filterTo({ cell: cell.dataset.cell }));

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const tag = event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "j" || event.key === "ArrowDown") {
      event.preventDefault();
      step(1);
    } else if (event.key === "k" || event.key === "ArrowUp") {
      event.preventDefault();
      step(-1);
    } else if (event.key === "/") {
      event.preventDefault();
      filters.text.focus();
    }
  });

  // ------------------------------------------------------------------ writes
  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = { error: (await response.text().catch(() => "")) || response.statusText };
    }
    if (!response.ok) throw new Error((data && data.error) || "HTTP " + response.status);
    return data;
  }

  function say(el, message, kind) {
    el.textContent = message;
    el.classList.remove("ok", "error");
    if (kind) el.classList.add(kind);
  }

  for (const form of $$("form.overrule-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = $("output", form);
      const choice = $("input[name=answer]:checked", form);
      if (!choice) {
        say(out, "choose YES, NO or NA", "error");
        return;
      }
      say(out, "saving…");
      try {
        await post("api/overrule", {
          model: model,
          item_id: form.dataset.item,
          answer: choice.value,
          comment: $("input[name=comment]", form).value,
        });
        saveState();
        history.replaceState(null, "", HASH + encodeURIComponent(selected));
        location.reload(); // the scores, the decision and the agreement are recomputed from the files
      } catch (error) {
        say(out, error.message, "error");
      }
    });
  }

  // ------------------------------------------------------------------ notes
  const notesForm = $("#notes-form");
  const status = $("#notes-status");
  const qualitative = $("#n-qualitative");
  const nextSteps = $("#n-next");
  const patterns = $$("input.pattern-input");
  const fields = [qualitative, nextSteps, ...patterns];

  function changedFields() {
    return fields.filter((el) => el.value !== el.defaultValue);
  }
  for (const el of fields) el.addEventListener("input", () => el.classList.toggle("changed", el.value !== el.defaultValue));

  async function saveNotes() {
    const changed = changedFields();
    if (!changed.length) return true;
    const body = { patterns: {}, base: { qualitative: qualitative.defaultValue, next_steps: nextSteps.defaultValue, patterns: {} } };
    if (qualitative.value !== qualitative.defaultValue) body.qualitative = qualitative.value;
    if (nextSteps.value !== nextSteps.defaultValue) body.next_steps = nextSteps.value;
    for (const el of patterns) {
      body.base.patterns[el.dataset.criterion] = el.defaultValue;
      if (el.value !== el.defaultValue) body.patterns[el.dataset.criterion] = el.value;
    }
    say(status, "saving…");
    try {
      await post("api/notes", body);
    } catch (error) {
      say(status, error.message, "error");
      return false;
    }
    for (const el of changed) {
      el.defaultValue = el.value;
      el.classList.remove("changed");
    }
    say(status, "saved to notes.md", "ok");
    return true;
  }

  function showRender(result) {
    $("#render-result").hidden = false;
    $("#render-path").textContent = result.path;
    $("#render-decision").textContent = result.decision;
    const missing = $("#missing");
    const list = $("ul", missing);
    list.replaceChildren(...result.missing.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    missing.hidden = result.missing.length === 0;
    const warnings = $("#render-warnings");
    warnings.replaceChildren(...result.warnings.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    $("#render-missing").textContent = result.missing.length
      ? "Still missing: " + result.missing.length + " item(s), listed above."
      : "Nothing is missing: every note the document needs is written.";
  }

  notesForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    await saveNotes();
  });
  $("#render").addEventListener("click", async () => {
    if (!(await saveNotes())) return;
    say(status, "rendering…");
    try {
      const result = await post("api/render", { model: model });
      showRender(result);
      say(status, "document written", "ok");
    } catch (error) {
      say(status, error.message, "error");
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (changedFields().length) event.preventDefault();
  });

  function follow() {
    const id = linked();
    if (id === null) return;
    if (rowById.get(id).hidden) filterTo({});
    select(id);
    $("#responses").scrollIntoView();
  }
  window.addEventListener("hashchange", follow);

  restoreState();
  apply();
  follow();
})();
