// ui.js - the dashboard's small toolkit: h() builds DOM nodes, api() calls
// triggerd's data endpoints with the session's CSRF token, live() follows
// an environment's run changes, and formatting helpers. No framework: the
// pages are plain DOM, built from the JSON the public API already returns.

export const state = { csrf: "", env: "dev", envs: [], project: {}, features: {} };

/** h("button", {onclick, class: "x", "aria-label": "..."}, ...children) */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "for") el.htmlFor = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls a dashboard data endpoint; JSON in and out. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { "x-trigger-api-version": "2025-07-16" };
  if (method !== "GET") headers["x-csrf-token"] = state.csrf;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    signal,
  });
  if (res.status === 401) {
    location.assign("/login");
    throw new ApiError(401, "Logged out");
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { error: text };
  }
  if (!res.ok) throw new ApiError(res.status, (json && (json.error || json.message)) || `HTTP ${res.status}`);
  return json;
}

/** The public API of the current environment, e.g. envApi("/api/v1/runs"). */
export const envApi = (path, opts) => api(`/dashboard/api/env/${state.env}${path}`, opts);

/** Follows run changes of the current environment until stop() is called:
 * fn(changes) for each batch. */
export function live(fn) {
  const ctl = new AbortController();
  const env = state.env;
  (async () => {
    let offset = null;
    let backoff = 500;
    while (!ctl.signal.aborted) {
      try {
        const q = offset === null ? "" : `?after=${offset}`;
        const r = await api(`/dashboard/api/env/${env}/live${q}`, { signal: ctl.signal });
        const fresh = offset !== null && r.changes.length;
        if (fresh) fn(r.changes);
        offset = r.offset;
        backoff = 500;
        // a busy environment answers every poll at once: a few a second are enough
        if (fresh) await new Promise((r) => setTimeout(r, 250));
      } catch (e) {
        if (ctl.signal.aborted) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  })();
  return () => ctl.abort();
}

/** Follows one SSE response of a data endpoint (fetch, so the session
 * cookie goes and Last-Event-ID resumes): onEvent({event, id, data}) for
 * each event; reconnects after the body ends while more() says so. */
export function followSse(url, onEvent, more, extraHeaders = {}) {
  const ctl = new AbortController();
  (async () => {
    let last = null;
    let backoff = 500;
    while (!ctl.signal.aborted) {
      try {
        const headers = last === null ? { ...extraHeaders } : { ...extraHeaders, "last-event-id": last };
        const res = await fetch(url, { headers, credentials: "same-origin", signal: ctl.signal });
        if (res.status === 401) return location.assign("/login");
        if (!res.ok) throw new ApiError(res.status, `HTTP ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n/g, "\n");
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const ev = { event: "message", id: null, data: [] };
            for (const line of buf.slice(0, cut).split("\n")) {
              const m = /^([a-z-]+): ?(.*)$/i.exec(line);
              if (!m) continue;
              if (m[1] === "event") ev.event = m[2];
              else if (m[1] === "id") ev.id = m[2];
              else if (m[1] === "data") ev.data.push(m[2]);
            }
            buf = buf.slice(cut + 2);
            ev.data = ev.data.join("\n");
            if (ev.id !== null) last = ev.id;
            onEvent(ev);
          }
        }
        backoff = 500;
        if (!more()) return;
        await new Promise((r) => setTimeout(r, 1000));
      } catch (e) {
        if (ctl.signal.aborted) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  })();
  return () => ctl.abort();
}

/** The chunks of one event of a run's output stream: v1 sends a chunk per
 * event, v2 (S2) batches of records whose body is {"data": chunk, ...}. */
export function streamChunks(ev) {
  if (ev.event === "ping" || ev.event === "error" || ev.data === "" || ev.data === "[DONE]") return [];
  if (ev.event !== "batch") return [ev.data];
  try {
    return (JSON.parse(ev.data).records ?? []).map((r) => {
      try {
        const b = JSON.parse(r.body);
        return b && typeof b === "object" && "data" in b ? b.data : r.body;
      } catch {
        return r.body;
      }
    });
  } catch {
    return [];
  }
}

/** Calls fn at most once per ms (trailing). */
export function debounce(fn, ms) {
  let t = null;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function fmtDur(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

const STATUS_CLASS = {
  COMPLETED: "ok", FAILED: "bad", CRASHED: "bad", SYSTEM_FAILURE: "bad", TIMED_OUT: "bad",
  CANCELED: "muted", EXPIRED: "muted", INTERRUPTED: "bad", EXECUTING: "run", DEQUEUED: "run",
  WAITING: "wait", DELAYED: "wait", QUEUED: "wait", PENDING_VERSION: "wait",
};

export function badge(status) {
  return h("span", { class: `badge ${STATUS_CLASS[status] ?? ""}`, "data-status": status }, status ?? "–");
}

export const FINAL = new Set(["COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED", "TIMED_OUT"]);

export function pretty(v) {
  if (v === undefined) return "–";
  if (typeof v === "string") return v;
  return JSON.stringify(v, null, 2);
}

/** A labelled <pre> for JSON or text, with a copy button. */
export function codeBlock(label, value, id) {
  const text = pretty(value);
  return h("section", { class: "block", "aria-labelledby": `${id}-h` },
    h("div", { class: "block-head" },
      h("h3", { id: `${id}-h` }, label),
      h("button", { type: "button", class: "small", "aria-label": `Copy ${label.toLowerCase()}`, onclick: () => copy(text) }, "Copy")),
    h("pre", { id, tabindex: "0" }, text));
}

export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied");
  } catch {
    toast("Copy failed: select the text and copy it");
  }
}

export function toast(msg, isError = false) {
  let box = document.getElementById("toast");
  if (!box) {
    box = h("div", { id: "toast", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  box.textContent = msg;
  box.className = isError ? "show error" : "show";
  clearTimeout(box._t);
  box._t = setTimeout(() => (box.className = ""), 4000);
}

/** A labelled form field. */
export function field(label, input) {
  const id = input.id || `f-${label.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input);
}

export function errorBox(e) {
  return h("p", { class: "error", role: "alert" }, String(e?.message ?? e));
}

/** A table: cols [{label, cell: (row) => node}], rows; caption for screen readers. */
export function table(caption, cols, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {},
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col" }, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, cols.map((c) => h("td", {}, c.cell(r)))))));
}

export function link(href, text, props = {}) {
  return h("a", { href, ...props }, text);
}

/** Navigates to #/{env}/{page}/{id}?{query}. */
export function go(page, id, query) {
  const q = query && [...query].length ? `?${query}` : "";
  location.hash = `#/${state.env}/${page}${id ? `/${encodeURIComponent(id)}` : ""}${q}`;
}

/** Re-renders box with node, keeping keyboard focus on the element with the same id. */
export function swap(box, node) {
  const focused = document.activeElement?.id;
  box.replaceChildren(node);
  if (focused) document.getElementById(focused)?.focus();
}
