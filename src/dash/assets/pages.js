// pages.js - the dashboard's pages. Each view(main, route) renders into
// main and may return a cleanup function (stops its live feed). Data comes
// from the public API of the chosen environment through envApi() (the
// server runs the API's own handlers), plus the few /dashboard/api/ extras.
import {
  state, h, api, envApi, live, debounce, fmtTime, fmtDur, badge, FINAL, codeBlock, copy, toast,
  field, errorBox, table, link, go, swap, followSse, streamChunks,
} from "./ui.js";

const STATUSES = ["QUEUED", "DELAYED", "PENDING_VERSION", "DEQUEUED", "EXECUTING", "WAITING",
  "COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "INTERRUPTED", "EXPIRED", "TIMED_OUT"];
const PERIODS = [["", "Any time"], ["1h", "Last hour"], ["1d", "Last day"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]];
const RUN_FILTERS = [
  ["status", "filter[status]"], ["task", "filter[taskIdentifier]"], ["tag", "filter[tag]"],
  ["period", "filter[createdAt][period]"], ["batch", "filter[batch]"], ["schedule", "filter[schedule]"],
  ["version", "filter[version]"],
];

const runHref = (id) => `#/${state.env}/run/${encodeURIComponent(id)}`;
const runLink = (id) => link(runHref(id), id, { "data-run-id": id, class: "mono" });

function heading(title, ...extra) {
  return h("div", { class: "page-head" }, h("h1", {}, title), ...extra);
}

/* ---- runs --------------------------------------------------------------- */

function runQuery(q, size = 25) {
  const p = new URLSearchParams();
  for (const [k, api] of RUN_FILTERS) if (q.get(k)) p.set(api, q.get(k));
  p.set("page[size]", String(size));
  return p;
}

async function runsPage(main, r) {
  const q = r.query;
  const tasks = await api(`/dashboard/api/env/${state.env}/tasks`).catch(() => ({ data: [] }));
  const input = (name, props = {}) => h("input", { id: `filter-${name}`, name, value: q.get(name) ?? "", ...props });
  const status = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Any status"), STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = q.get("status") ?? "";
  const period = h("select", { id: "filter-period", name: "period" }, PERIODS.map(([v, l]) => h("option", { value: v }, l)));
  period.value = q.get("period") ?? "";
  const form = h("form", {
    class: "filters", role: "search", "aria-label": "Filter runs",
    onsubmit: (e) => {
      e.preventDefault();
      const p = new URLSearchParams();
      for (const el of form.elements) if (el.name && el.value.trim()) p.set(el.name, el.value.trim());
      go("runs", null, p);
    },
  },
    field("Status", status),
    field("Task", input("task", { list: "task-ids", placeholder: "task id" })),
    h("datalist", { id: "task-ids" }, (tasks.data ?? []).map((t) => h("option", { value: t.id }))),
    field("Tag", input("tag", { placeholder: "tag" })),
    field("Created", period),
    field("Batch", input("batch", { placeholder: "batch_…" })),
    field("Schedule", input("schedule", { placeholder: "sched_…" })),
    field("Version", input("version", { placeholder: "20250101.1" })),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", class: "secondary", onclick: () => go("runs") }, "Clear")));

  const bulkStatus = h("span", { id: "bulk-status", role: "status", "aria-live": "polite" });
  const bulkBar = h("div", { class: "bulk" });
  const bulkButtons = () => [
    h("button", { type: "button", class: "secondary", id: "bulk-cancel", onclick: () => confirmBulk("cancel") }, "Cancel matching runs…"),
    h("button", { type: "button", class: "secondary", id: "bulk-replay", onclick: () => confirmBulk("replay") }, "Replay matching runs…"),
    bulkStatus,
  ];
  bulkBar.replaceChildren(...bulkButtons());
  function confirmBulk(action) {
    bulkBar.replaceChildren(
      h("span", {}, `${action === "cancel" ? "Cancel" : "Replay"} every run that matches these filters?`),
      h("button", { type: "button", id: "bulk-confirm", class: action === "cancel" ? "danger" : "", onclick: () => runBulk(action) }, `Yes, ${action}`),
      h("button", { type: "button", class: "secondary", onclick: () => bulkBar.replaceChildren(...bulkButtons()) }, "No"),
      bulkStatus);
    document.getElementById("bulk-confirm").focus();
  }
  // the server walks every run matching the filter (an engine bulk action)
  async function runBulk(action) {
    bulkBar.replaceChildren(...bulkButtons());
    const verb = action === "cancel" ? "Cancelled" : "Replayed";
    const p = runQuery(q, 100);
    p.delete("page[size]");
    try {
      let job = await api(`/dashboard/api/env/${state.env}/bulk?${p}`, { method: "POST", body: { action } });
      bulkStatus.textContent = "Started…";
      while (!job.done) {
        await new Promise((r) => setTimeout(r, 300));
        job = await api(`/dashboard/api/env/${state.env}/bulk/${job.id}`);
        bulkStatus.textContent = `${verb} ${job.succeeded} of ${job.matched} so far…`;
      }
      const extra = [job.skipped ? `${job.skipped} already finished` : "", job.failed ? `${job.failed} failed` : ""].filter(Boolean);
      bulkStatus.textContent = `${verb} ${job.succeeded} run${job.succeeded === 1 ? "" : "s"}${extra.length ? ` (${extra.join(", ")})` : ""}.`;
    } catch (e) {
      bulkStatus.textContent = `Bulk ${action} failed: ${e.message}`;
    }
    load();
  }

  const list = h("div", { id: "runs-list", "aria-live": "off" });
  main.append(heading("Runs", h("span", { class: "live-dot", title: "Live: new runs and status changes appear on their own" }, "Live")), form, bulkBar, list);

  let busy = false, again = false;
  async function load() {
    if (busy) return void (again = true);
    busy = true;
    try {
      const p = runQuery(q);
      if (q.get("after")) p.set("page[after]", q.get("after"));
      if (q.get("before")) p.set("page[before]", q.get("before"));
      const res = await envApi(`/api/v1/runs?${p}`);
      const pageLink = (k, v, label) => {
        const np = new URLSearchParams(q);
        np.delete("after");
        np.delete("before");
        np.set(k, v);
        return h("a", { href: `#/${state.env}/runs?${np}`, class: "button secondary", rel: k === "after" ? "next" : "prev" }, label);
      };
      swap(list, h("div", {},
        table("Runs, newest first", [
          { label: "Run", cell: (x) => runLink(x.id) },
          { label: "Task", cell: (x) => x.taskIdentifier },
          { label: "Status", cell: (x) => badge(x.status) },
          { label: "Created", cell: (x) => fmtTime(x.createdAt) },
          { label: "Duration", cell: (x) => (x.durationMs ? fmtDur(x.durationMs) : "–") },
          { label: "Version", cell: (x) => x.version ?? "–" },
          { label: "Tags", cell: (x) => (x.tags ?? []).map((t) => h("span", { class: "tag" }, t)) },
        ], res.data, "No runs match."),
        h("nav", { class: "pager", "aria-label": "Pages of runs" },
          res.pagination?.previous ? pageLink("before", res.pagination.previous, "← Newer") : null,
          res.pagination?.next ? pageLink("after", res.pagination.next, "Older →") : null)));
    } catch (e) {
      swap(list, errorBox(e));
    } finally {
      busy = false;
      if (again) {
        again = false;
        load();
      }
    }
  }
  await load();
  return live(debounce(load, 200));
}

/* ---- run detail ------------------------------------------------------- */

function spansOf(trace, events, run) {
  const out = [];
  if (trace?.trace?.rootSpan) {
    const walk = (s, depth) => {
      const d = s.data ?? {};
      const start = Date.parse(d.startTime);
      // triggerd's trace gives span durations in ms (api/trace.c)
      out.push({ id: s.id, name: d.message, start, ms: Number(d.duration) || 0, depth, error: d.isError, partial: d.isPartial });
      for (const c of s.children ?? []) walk(c, depth + 1);
    };
    walk(trace.trace.rootSpan, 0);
    return out;
  }
  for (const e of events) {
    if (e.kind !== "SPAN") continue;
    out.push({ id: e.spanId, name: e.message, start: Date.parse(e.startTime), ms: Number(e.duration) || 0, depth: 0, error: e.isError });
  }
  if (!out.length && run.startedAt) {
    const start = Date.parse(run.startedAt);
    const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
    out.push({ id: run.id, name: run.taskIdentifier, start, ms: end - start, depth: 0, error: run.status === "FAILED" });
  }
  return out;
}

/* The attempt spans of a trace ("Attempt N"), with the exceptions recorded
 * in them or their descendants (OTLP span events named "exception"). */
function attemptsOf(trace) {
  const out = [];
  const exceptions = (s, acc) => {
    for (const e of s.data?.events ?? []) {
      if (e.name !== "exception") continue;
      const p = e.properties ?? e.attributes ?? {};
      const x = p.exception ?? {};
      acc.push({ message: `${x.type ?? p["exception.type"] ?? "Error"}: ${x.message ?? p["exception.message"] ?? ""}`, stack: x.stacktrace ?? p["exception.stacktrace"] });
    }
    for (const c of s.children ?? []) exceptions(c, acc);
    return acc;
  };
  const walk = (s) => {
    if (/^Attempt \d+/.test(s.data?.message ?? "")) {
      // a running attempt's span has no duration yet: the time since it started
      const running = s.data.isPartial && !Number(s.data.duration);
      out.push({ name: s.data.message, start: s.data.startTime, ms: running ? Date.now() - Date.parse(s.data.startTime) : Number(s.data.duration) || 0, error: s.data.isError, partial: s.data.isPartial, exceptions: exceptions(s, []) });
      return;
    }
    for (const c of s.children ?? []) walk(c);
  };
  if (trace?.trace?.rootSpan) walk(trace.trace.rootSpan);
  return out;
}

function timeline(spans) {
  if (!spans.length) return h("p", { class: "empty" }, "No spans recorded yet.");
  const t0 = Math.min(...spans.map((s) => s.start));
  const t1 = Math.max(...spans.map((s) => s.start + s.ms), t0 + 1);
  const total = t1 - t0;
  return h("ol", { class: "timeline", id: "spans", "aria-label": "Spans, by start time" },
    spans.map((s) => {
      const bar = h("span", { class: `bar${s.error ? " bad" : ""}` });
      bar.style.marginLeft = `${((s.start - t0) / total) * 100}%`;
      bar.style.width = `${Math.max((s.ms / total) * 100, 0.5)}%`;
      const row = h("li", { class: "span", "data-span-id": s.id, tabindex: "0" },
        h("span", { class: "span-name" }, s.name ?? s.id),
        h("span", { class: "span-track", "aria-hidden": "true" }, bar),
        h("span", { class: "span-dur" }, `+${fmtDur(s.start - t0)} · ${fmtDur(s.ms)}`));
      row.querySelector(".span-name").style.paddingLeft = `${s.depth * 1}em`;
      return row;
    }));
}

async function packet(run, key) {
  const url = run[`${key}PresignedUrl`];
  if (!url) return { value: run[key], large: false };
  const res = await fetch(url);
  const text = await res.text();
  try {
    return { value: JSON.parse(text), large: true };
  } catch {
    return { value: text, large: true };
  }
}

function kv(rows) {
  return h("dl", { class: "kv" }, rows.filter(Boolean).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "–")]));
}

/* The run's output streams, each followed live; kept across re-renders of
 * the rest of the page so nothing is read twice. */
function streamsView(id, isFinal) {
  const readers = new Map();
  const list = h("div", {}, h("p", { class: "empty" }, "No streams."));
  const section = h("section", { class: "card", id: "run-streams", "aria-labelledby": "streams-h" },
    h("h2", { id: "streams-h" }, "Streams"), list);
  function add(key) {
    if (readers.has(key)) return;
    if (!readers.size) list.replaceChildren();
    const text = h("pre", { id: `stream-${key.replace(/[^a-zA-Z0-9_-]/g, "_")}`, class: "stream", tabindex: "0", "aria-live": "off", "aria-label": `Stream ${key}` });
    const count = h("span", { class: "muted" }, "0 chunks");
    let n = 0;
    list.append(h("div", { class: "block" }, h("div", { class: "block-head" }, h("h3", {}, key), count), text));
    const url = `/dashboard/api/env/${state.env}/realtime/v1/streams/${encodeURIComponent(id)}/${encodeURIComponent(key)}`;
    readers.set(key, followSse(url, (ev) => {
      const chunks = streamChunks(ev);
      if (!chunks.length) return;
      for (const c of chunks) text.append(`${typeof c === "string" ? c : JSON.stringify(c)}\n`);
      n += chunks.length;
      count.textContent = `${n} chunk${n === 1 ? "" : "s"}`;
    }, () => !isFinal(), { "x-trigger-realtime-streams-version": "v2" }));
    // (v2, as the SDK asks: a stream with v1 records is still read as v1,
    // and one not written yet is then waited for where v2 writers write)
  }
  async function refresh() {
    const res = await api(`/dashboard/api/env/${state.env}/runs/${encodeURIComponent(id)}/streams`).catch(() => ({ data: [] }));
    for (const k of res.data ?? []) add(k);
  }
  return { section, refresh, stop: () => readers.forEach((stop) => stop()) };
}

async function runPage(main, r) {
  const id = r.id;
  const box = h("div", { id: "run" });
  let runFinal = false;
  let left = false; // the user went to another page
  const streams = streamsView(id, () => runFinal);
  main.append(box, streams.section);
  let related = new Set();
  let timer = null;
  async function act(path, verb) {
    try {
      const res = await envApi(path, { method: "POST", body: {} });
      toast(`${verb}${res?.id && res.id !== id ? `: ${res.id}` : ""}`);
      if (res?.id && res.id !== id) go("run", res.id);
      else load();
    } catch (e) {
      toast(e.message, true);
    }
  }
  async function load() {
    let run;
    try {
      run = await envApi(`/api/v3/runs/${encodeURIComponent(id)}`);
    } catch (e) {
      swap(box, h("div", {}, heading(`Run ${id}`), errorBox(e)));
      return;
    }
    const [events, trace, payload, output, waits] = await Promise.all([
      envApi(`/api/v1/runs/${encodeURIComponent(id)}/events`).then((x) => x.events ?? []).catch(() => []),
      state.features.trace ? envApi(`/api/v1/runs/${encodeURIComponent(id)}/trace`).catch(() => null) : null,
      packet(run, "payload").catch((e) => ({ value: `(could not load: ${e.message})` })),
      packet(run, "output").catch((e) => ({ value: `(could not load: ${e.message})` })),
      api(`/dashboard/api/env/${state.env}/runs/${encodeURIComponent(id)}/waitpoints`).then((x) => x.data).catch(() => []),
    ]);
    const attempts = attemptsOf(trace);
    const rel = run.relatedRuns ?? {};
    related = new Set([rel.parent?.id, rel.root?.id, ...(rel.children ?? []).map((c) => c.id)].filter(Boolean));
    const final = FINAL.has(run.status);
    runFinal = final;
    streams.refresh();
    const logs = events.filter((e) => e.kind !== "SPAN");
    const err = run.error;
    swap(box, h("div", {},
      heading(h("span", {}, "Run ", h("span", { class: "mono" }, run.id)), badge(run.status),
        h("div", { class: "buttons" },
          h("button", { type: "button", id: "run-cancel", class: "danger", disabled: final, onclick: () => act(`/api/v2/runs/${id}/cancel`, "Cancel requested") }, "Cancel run"),
          h("button", { type: "button", id: "run-replay", class: "secondary", onclick: () => act(`/api/v1/runs/${id}/replay`, "Replayed") }, "Replay run"))),
      h("div", { class: "grid" },
        h("section", { class: "card", "aria-labelledby": "sum-h" }, h("h2", { id: "sum-h" }, "Summary"), kv([
          ["Task", link(`#/${state.env}/runs?task=${encodeURIComponent(run.taskIdentifier)}`, run.taskIdentifier)],
          ["Status", h("span", { id: "run-status" }, run.status)],
          ["Version", run.version],
          ["Created", fmtTime(run.createdAt)],
          ["Started", fmtTime(run.startedAt)],
          ["Finished", fmtTime(run.finishedAt)],
          ["Duration", run.durationMs ? fmtDur(run.durationMs) : "–"],
          ["Attempts", String(run.attemptCount ?? 0)],
          run.delayedUntil && ["Delayed until", fmtTime(run.delayedUntil)],
          run.ttl && ["TTL", run.ttl],
          run.idempotencyKey && ["Idempotency key", run.idempotencyKey],
          ["Tags", (run.tags ?? []).length ? run.tags.map((t) => link(`#/${state.env}/runs?tag=${encodeURIComponent(t)}`, t, { class: "tag" })) : "–"],
          run.batchId && ["Batch", link(`#/${state.env}/runs?batch=${encodeURIComponent(run.batchId)}`, run.batchId)],
          run.schedule && ["Schedule", link(`#/${state.env}/runs?schedule=${encodeURIComponent(run.schedule.id)}`, `${run.schedule.id} (${run.schedule.generator?.expression ?? ""})`)],
        ])),
        h("section", { class: "card", "aria-labelledby": "rel-h" }, h("h2", { id: "rel-h" }, "Related runs"), kv([
          ["Root", rel.root ? runLink(rel.root.id) : "–"],
          ["Parent", rel.parent ? runLink(rel.parent.id) : "–"],
          ["Children", (rel.children ?? []).length ? h("ul", { class: "plain" }, rel.children.map((c) => h("li", {}, runLink(c.id), " ", badge(c.status)))) : "–"],
        ]))),
      err ? h("section", { class: "card error-card", "aria-labelledby": "err-h" },
        h("h2", { id: "err-h" }, `Error${run.attemptCount > 1 ? ` (attempt ${run.attemptCount})` : ""}`),
        h("p", { id: "run-error" }, `${err.name ? `${err.name}: ` : ""}${err.message ?? ""}`),
        err.stackTrace ? h("pre", { id: "run-stack", tabindex: "0" }, err.stackTrace) : null) : null,
      waits.length ? h("section", { class: "card", "aria-labelledby": "wait-h" }, h("h2", { id: "wait-h" }, "Waiting on"),
        table("Waitpoints the run is blocked by", [
          { label: "Waitpoint", cell: (w) => h("span", { class: "mono" }, w.id) },
          { label: "Type", cell: (w) => w.type },
          { label: "Status", cell: (w) => w.status },
          { label: "Until", cell: (w) => (w.type === "DATETIME" ? fmtTime(w.completedAfter) : w.timeoutAt ? `times out ${fmtTime(w.timeoutAt)}` : "–") },
          { label: "For", cell: (w) => (w.completedByRun ? runLink(w.completedByRun) : w.batchId ? link(`#/${state.env}/batches/${encodeURIComponent(w.batchId)}`, w.batchId) : w.type === "MANUAL" ? link(`#/${state.env}/tokens`, "a token") : "–") },
        ], waits)) : null,
      attempts.length ? h("section", { class: "card", "aria-labelledby": "att-h" }, h("h2", { id: "att-h" }, "Attempts"),
        h("ol", { class: "plain", id: "attempts" }, attempts.map((a) => h("li", { class: "attempt" },
          h("strong", {}, a.name), " ", a.error ? h("span", { class: "badge bad" }, "failed") : a.partial ? h("span", { class: "badge run" }, "running") : h("span", { class: "badge ok" }, "ok"),
          ` ${fmtTime(a.start)} · ${fmtDur(a.ms)}`,
          a.exceptions.map((x) => h("div", { class: "exception" }, h("p", {}, x.message), x.stack ? h("pre", { tabindex: "0" }, x.stack) : null)))))) : null,
      h("div", { class: "grid" },
        codeBlock(`Payload${payload.large ? " (large, from its packet)" : ""}`, payload.value, "run-payload"),
        codeBlock(`Output${output.large ? " (large, from its packet)" : ""}`, final || run.output !== undefined ? output.value : "(not finished)", "run-output")),
      codeBlock("Metadata", run.metadata ?? {}, "run-metadata"),
      h("section", { class: "card", "aria-labelledby": "trace-h" }, h("h2", { id: "trace-h" }, "Trace"), timeline(spansOf(trace, events, run))),
      h("section", { class: "card", "aria-labelledby": "logs-h" }, h("h2", { id: "logs-h" }, "Logs"),
        logs.length ? h("table", { id: "logs" },
          h("caption", { class: "sr-only" }, "Log lines, oldest first"),
          h("thead", {}, h("tr", {}, ["Time", "Level", "Message"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, logs.map((l) => h("tr", { class: `lvl-${String(l.level).toLowerCase()}` },
            h("td", { class: "mono" }, fmtTime(l.startTime)), h("td", {}, l.level),
            h("td", {}, l.message, l.properties && Object.keys(l.properties).length ? h("code", { class: "props" }, ` ${JSON.stringify(l.properties)}`) : null)))))
          : h("p", { class: "empty" }, "No log lines yet.")),
      null));
    clearTimeout(timer);
    // logs and spans arrive over OTLP without a run change: poll while it
    // runs, and a little after (the last export trails the end)
    const settled = final && Date.now() - Date.parse(run.finishedAt ?? run.updatedAt ?? 0) > 8000;
    if (!settled && !left) timer = setTimeout(load, final ? 3000 : 1500);
  }
  await load();
  const stop = live((changes) => {
    if (changes.some((c) => c.id === id || related.has(c.id))) load();
  });
  return () => {
    left = true;
    stop();
    streams.stop();
    clearTimeout(timer);
  };
}

/* ---- tasks ------------------------------------------------------------- */

async function tasksPage(main) {
  const res = await api(`/dashboard/api/env/${state.env}/tasks`);
  main.append(heading("Tasks"),
    res.worker ? h("p", {}, `Worker ${res.worker.version} (${res.worker.id}), registered ${fmtTime(res.worker.createdAt)}.`)
      : h("p", { class: "empty" }, "No worker has registered in this environment yet (run trigger.dev dev)."),
    table("Tasks of the current worker", [
      { label: "Task", cell: (t) => link(`#/${state.env}/runs?task=${encodeURIComponent(t.id)}`, t.id, { class: "mono" }) },
      { label: "File", cell: (t) => t.filePath ?? "–" },
      { label: "Queue", cell: (t) => t.queue?.name ?? `task/${t.id}` },
      { label: "Trigger", cell: (t) => (t.triggerSource === "SCHEDULED" || t.schedule ? "schedule" : "standard") },
      { label: "Machine", cell: (t) => t.machine?.preset ?? "–" },
      { label: "Max attempts", cell: (t) => String(t.retry?.maxAttempts ?? "–") },
    ], res.data ?? [], "No tasks."));
}

/* ---- deployments (trigger.dev deploy, docs/deploy.md) ------------------------ */

async function deploymentsPage(main, r) {
  if (!state.features.deployments) {
    main.append(heading("Deployments"), h("p", { class: "empty" }, "This triggerd has no deployments yet."));
    return;
  }
  const box = h("div", { id: "deployments" });
  main.append(heading("Deployments"), box);
  async function promote(d) {
    try {
      await envApi(`/api/v1/deployments/${encodeURIComponent(d.version)}/promote`, { method: "POST", body: {} });
      toast(`Version ${d.version} is now current`);
      await load();
      document.getElementById("deploy-current")?.focus();
    } catch (e) {
      toast(e.message, true);
    }
  }
  async function load() {
    const p = new URLSearchParams({ "page[size]": "20" });
    if (r.query.get("after")) p.set("page[after]", r.query.get("after"));
    const res = await envApi(`/api/v1/deployments?${p}`);
    // the current one (the promoted version) only exists once something was deployed
    const current = res.data.some((d) => d.status === "DEPLOYED")
      ? await envApi("/api/v1/deployments/current").catch(() => null) : null;
    swap(box, h("div", {},
      current ? h("p", { id: "deploy-current", tabindex: "-1" }, "Current version: ", h("strong", {}, current.version), ` (${current.shortCode}, deployed ${fmtTime(current.deployedAt)})`)
        : h("p", { class: "empty" }, "No version is deployed in this environment (trigger.dev deploy)."),
      table("Deployments, newest first", [
        { label: "Deployment", cell: (d) => h("span", { class: "mono" }, d.shortCode ?? d.id) },
        { label: "Version", cell: (d) => link(`#/${state.env}/runs?version=${encodeURIComponent(d.version)}`, d.version) },
        { label: "Status", cell: (d) => h("span", {}, badge(d.status), current?.id === d.id ? " current" : "") },
        { label: "Created", cell: (d) => fmtTime(d.createdAt) },
        { label: "Deployed", cell: (d) => fmtTime(d.deployedAt) },
        { label: "Error", cell: (d) => (d.error ? h("span", { class: "error" }, d.error.message ?? d.error.name ?? "failed") : "–") },
        { label: "Actions", cell: (d) => (d.status === "DEPLOYED" && current?.id !== d.id
          ? h("button", { type: "button", class: "secondary", "aria-label": `Promote version ${d.version}`, onclick: () => promote(d) }, "Promote") : "–") },
      ], res.data ?? [], "No deployments in this environment."),
      res.pagination?.next ? h("nav", { class: "pager", "aria-label": "Pages of deployments" },
        link(`#/${state.env}/deployments?after=${encodeURIComponent(res.pagination.next)}`, "Older →", { class: "button secondary" })) : null));
  }
  await load();
}

/* ---- queues (the queues API, spec/api.md 6.7) ---------------------------- */

async function queuesPage(main, r) {
  const page = Number(r.query.get("page") || 1);
  const box = h("div", { id: "queues" });
  main.append(heading("Queues", h("span", { class: "live-dot" }, "Live")), box);
  const qpath = (q) => `/api/v1/queues/${encodeURIComponent(q.id)}`;
  async function act(q, sub, body, verb) {
    try {
      await envApi(`${qpath(q)}/${sub}`, { method: "POST", body: { type: "id", ...body } });
      toast(`${q.name}: ${verb}`);
      load();
    } catch (e) {
      toast(e.message, true);
    }
  }
  async function load() {
    if (!state.features.queues) {
      swap(box, h("p", { class: "empty" }, "This triggerd has no queues API yet."));
      return;
    }
    let res;
    try {
      res = await envApi(`/api/v1/queues?page=${page}&perPage=25`);
    } catch (e) {
      swap(box, e.status === 404 ? h("p", { class: "empty" }, "This triggerd has no queues API yet.") : errorBox(e));
      return;
    }
    swap(box, h("div", {}, table("Queues", [
      { label: "Queue", cell: (q) => h("span", { class: "mono" }, q.name) },
      { label: "Type", cell: (q) => q.type },
      { label: "Queued", cell: (q) => h("span", { "data-queued": q.name }, String(q.queued)) },
      { label: "Running", cell: (q) => String(q.running) },
      { label: "Limit", cell: (q) => (q.concurrencyLimit ?? "none") + (q.concurrency?.override != null ? " (overridden)" : "") },
      { label: "State", cell: (q) => (q.paused ? h("strong", {}, "Paused") : "Running") },
      { label: "Actions", cell: (q) => {
        const limit = h("input", { type: "number", min: "0", max: "100000", id: `limit-${q.id}`, class: "narrow", "aria-label": `Concurrency limit for ${q.name}` });
        return h("div", { class: "buttons" },
          h("button", { type: "button", id: `pause-${q.name.replace(/[^a-zA-Z0-9_-]/g, "_")}`, "aria-label": `${q.paused ? "Resume" : "Pause"} ${q.name}`, onclick: () => act(q, "pause", { action: q.paused ? "resume" : "pause" }, q.paused ? "resumed" : "paused") }, q.paused ? "Resume" : "Pause"),
          limit,
          h("button", { type: "button", class: "secondary", "aria-label": `Override the concurrency limit of ${q.name}`, onclick: () => limit.value !== "" && act(q, "concurrency/override", { concurrencyLimit: Number(limit.value) }, "limit overridden") }, "Override"),
          q.concurrency?.override != null ? h("button", { type: "button", class: "secondary", "aria-label": `Reset the concurrency limit of ${q.name}`, onclick: () => act(q, "concurrency/reset", {}, "limit reset") }, "Reset") : null);
      } },
    ], res.data ?? [], "No queues yet."),
    res.pagination?.totalPages > 1 ? h("nav", { class: "pager", "aria-label": "Pages of queues" },
      page > 1 ? link(`#/${state.env}/queues?page=${page - 1}`, "← Previous", { class: "button secondary" }) : null,
      h("span", {}, `Page ${page} of ${res.pagination.totalPages}`),
      page < res.pagination.totalPages ? link(`#/${state.env}/queues?page=${page + 1}`, "Next →", { class: "button secondary" }) : null) : null));
  }
  await load();
  return live(debounce(load, 300));
}

/* ---- schedules ----------------------------------------------------------- */

async function schedulesPage(main, r) {
  const page = Number(r.query.get("page") || 1);
  const box = h("div", { id: "schedules" });
  main.append(heading("Schedules"), box);
  async function toggle(s) {
    try {
      await envApi(`/api/v1/schedules/${s.id}/${s.active ? "deactivate" : "activate"}`, { method: "POST", body: {} });
      toast(`${s.id} ${s.active ? "deactivated" : "activated"}`);
      load();
    } catch (e) {
      toast(e.message, true);
    }
  }
  async function load() {
    const res = await envApi(`/api/v1/schedules?page=${page}&perPage=25`);
    swap(box, h("div", {}, table("Schedules", [
      { label: "Schedule", cell: (s) => link(`#/${state.env}/runs?schedule=${s.id}`, s.id, { class: "mono" }) },
      { label: "Task", cell: (s) => s.task },
      { label: "Cron", cell: (s) => h("span", {}, h("code", {}, s.generator?.expression), h("br"), h("small", {}, s.generator?.description ?? "")) },
      { label: "Time zone", cell: (s) => s.timezone },
      { label: "Type", cell: (s) => s.type },
      { label: "External id", cell: (s) => s.externalId ?? "–" },
      { label: "Next run", cell: (s) => (s.active ? fmtTime(s.nextRun) : "–") },
      { label: "Active", cell: (s) => (s.active ? "Yes" : "No") },
      { label: "Actions", cell: (s) => h("button", { type: "button", class: "secondary", "aria-label": `${s.active ? "Deactivate" : "Activate"} ${s.id}`, onclick: () => toggle(s) }, s.active ? "Deactivate" : "Activate") },
    ], res.data ?? [], "No schedules in this environment."),
    res.pagination?.totalPages > 1 ? h("nav", { class: "pager", "aria-label": "Pages of schedules" },
      page > 1 ? link(`#/${state.env}/schedules?page=${page - 1}`, "← Previous", { class: "button secondary" }) : null,
      h("span", {}, `Page ${page} of ${res.pagination.totalPages}`),
      page < res.pagination.totalPages ? link(`#/${state.env}/schedules?page=${page + 1}`, "Next →", { class: "button secondary" }) : null) : null));
  }
  await load();
}

/* ---- waitpoint tokens ---------------------------------------------------- */

async function tokensPage(main, r) {
  const q = r.query;
  const box = h("div", { id: "tokens" });
  const output = h("textarea", { id: "token-output", rows: "2", placeholder: '{"approved": true}' });
  main.append(heading("Waitpoint tokens"),
    h("p", {}, "Completing a token resumes every run waiting on it."),
    field("Output for “Complete” (JSON)", output), box);
  async function complete(t) {
    let data = {};
    try {
      data = output.value.trim() ? JSON.parse(output.value) : {};
    } catch {
      toast("The output is not valid JSON", true);
      return;
    }
    try {
      await envApi(`/api/v1/waitpoints/tokens/${t.id}/complete`, { method: "POST", body: { data } });
      toast(`${t.id} completed`);
      load();
    } catch (e) {
      toast(e.message, true);
    }
  }
  async function load() {
    const p = new URLSearchParams({ "page[size]": "25" });
    if (q.get("after")) p.set("page[after]", q.get("after"));
    const res = await envApi(`/api/v1/waitpoints/tokens?${p}`);
    swap(box, h("div", {}, table("Waitpoint tokens", [
      { label: "Token", cell: (t) => h("span", { class: "mono" }, t.id) },
      { label: "Status", cell: (t) => badge(t.status) },
      { label: "Created", cell: (t) => fmtTime(t.createdAt) },
      { label: "Times out", cell: (t) => fmtTime(t.timeoutAt) },
      { label: "Completed", cell: (t) => fmtTime(t.completedAt) },
      { label: "Idempotency key", cell: (t) => t.idempotencyKey ?? "–" },
      { label: "Tags", cell: (t) => (t.tags ?? []).map((x) => h("span", { class: "tag" }, x)) },
      { label: "Actions", cell: (t) => (t.status === "WAITING" ? h("button", { type: "button", "aria-label": `Complete ${t.id}`, onclick: () => complete(t) }, "Complete") : "–") },
    ], res.data ?? [], "No waitpoint tokens."),
    res.pagination?.next ? h("nav", { class: "pager", "aria-label": "Pages of tokens" }, link(`#/${state.env}/tokens?after=${res.pagination.next}`, "Older →", { class: "button secondary" })) : null));
  }
  await load();
  return live(debounce(load, 500));
}

/* ---- batches ------------------------------------------------------------- */

async function batchesPage(main, r) {
  const box = h("div", { id: "batch" });
  const idInput = h("input", { id: "batch-id", name: "id", placeholder: "batch_…", value: r.id ?? "" });
  main.append(heading("Batches"),
    h("form", { class: "filters", role: "search", "aria-label": "Find a batch", onsubmit: (e) => { e.preventDefault(); if (idInput.value.trim()) go("batches", idInput.value.trim()); } },
      field("Batch ID", idInput), h("div", { class: "buttons" }, h("button", { type: "submit" }, "Show batch"))),
    box);
  if (r.id) {
    try {
      const b = await envApi(`/api/v2/batches/${encodeURIComponent(r.id)}`);
      box.append(h("section", { class: "card" }, h("h2", {}, b.id), kv([
        ["Status", badge(b.status)], ["Runs", String(b.runCount ?? (b.runs ?? []).length)],
        ["Created", fmtTime(b.createdAt)], ["Updated", fmtTime(b.updatedAt)],
        ["Idempotency key", b.idempotencyKey ?? "–"],
        ["Runs of the batch", link(`#/${state.env}/runs?batch=${encodeURIComponent(b.id)}`, "Show in the runs list")],
      ])));
    } catch (e) {
      box.append(errorBox(e));
    }
  }
  // the recent batches, from the runs that belong to one
  const res = await envApi(`/api/v1/runs?page[size]=100`);
  const seen = new Map();
  for (const run of res.data) if (run.batchId && !seen.has(run.batchId)) seen.set(run.batchId, run);
  main.append(h("h2", {}, "Recent batches"), table("Batches of the latest 100 runs", [
    { label: "Batch", cell: ([id]) => link(`#/${state.env}/batches/${encodeURIComponent(id)}`, id, { class: "mono" }) },
    { label: "Task", cell: ([, run]) => run.taskIdentifier },
    { label: "Latest run", cell: ([, run]) => fmtTime(run.createdAt) },
  ], [...seen], "No batches among the latest runs."));
}

/* ---- sessions ------------------------------------------------------------ */

async function sessionsPage(main, r) {
  const q = r.query;
  const p = new URLSearchParams({ "page[size]": "25" });
  if (q.get("after")) p.set("page[after]", q.get("after"));
  const res = await envApi(`/api/v1/sessions?${p}`);
  main.append(heading("Sessions"), table("Sessions", [
    { label: "Session", cell: (s) => h("span", { class: "mono" }, s.id) },
    { label: "External id", cell: (s) => s.externalId ?? "–" },
    { label: "Type", cell: (s) => s.type ?? "–" },
    { label: "Task", cell: (s) => s.taskIdentifier ?? "–" },
    { label: "Status", cell: (s) => s.status ?? (s.closedAt ? "CLOSED" : "OPEN") },
    { label: "Created", cell: (s) => fmtTime(s.createdAt) },
    { label: "Tags", cell: (s) => (s.tags ?? []).map((x) => h("span", { class: "tag" }, x)) },
  ], res.data ?? [], "No sessions."),
  res.pagination?.next ? h("nav", { class: "pager", "aria-label": "Pages of sessions" }, link(`#/${state.env}/sessions?after=${res.pagination.next}`, "Older →", { class: "button secondary" })) : null);
}

/* ---- environment variables ------------------------------------------------- */

async function envvarsPage(main) {
  const base = `/api/v1/projects/${state.project.ref}/envvars/${state.env}`;
  const box = h("div", { id: "envvars" });
  const name = h("input", { id: "var-name", name: "name", required: true, pattern: "[A-Za-z_][A-Za-z0-9_]*", autocomplete: "off" });
  const value = h("input", { id: "var-value", name: "value", autocomplete: "off" });
  main.append(heading("Environment variables"),
    h("p", {}, "They reach process.env of every run of this environment."),
    h("form", { class: "filters", "aria-label": "Add a variable", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await envApi(base, { method: "POST", body: { name: name.value.trim(), value: value.value } });
        toast(`${name.value} saved`);
        name.value = value.value = "";
        load();
      } catch (err) {
        toast(err.message, true);
      }
    } }, field("Name", name), field("Value", value), h("div", { class: "buttons" }, h("button", { type: "submit" }, "Add variable"))),
    box);
  async function load() {
    const vars = await envApi(base);
    swap(box, table("Environment variables", [
      { label: "Name", cell: (v) => h("span", { class: "mono" }, v.name) },
      { label: "Value", cell: (v) => {
        const input = h("input", { id: `val-${v.name}`, value: v.value, "aria-label": `Value of ${v.name}` });
        return h("form", { class: "inline-form", onsubmit: async (e) => {
          e.preventDefault();
          try {
            await envApi(`${base}/${encodeURIComponent(v.name)}`, { method: "PUT", body: { value: input.value } });
            toast(`${v.name} updated`);
          } catch (err) {
            toast(err.message, true);
          }
        } }, input, h("button", { type: "submit", class: "secondary", "aria-label": `Save ${v.name}` }, "Save"));
      } },
      { label: "Actions", cell: (v) => h("button", { type: "button", class: "danger", "aria-label": `Delete ${v.name}`, onclick: async () => {
        try {
          await envApi(`${base}/${encodeURIComponent(v.name)}`, { method: "DELETE" });
          toast(`${v.name} deleted`);
          load();
        } catch (err) {
          toast(err.message, true);
        }
      } }, "Delete") },
    ], vars ?? [], "No variables in this environment."));
  }
  await load();
}

/* ---- API keys -------------------------------------------------------------- */

async function keysPage(main) {
  const box = h("div", { id: "keys" });
  main.append(heading("API keys"),
    h("p", {}, "The secret key of each environment (TRIGGER_SECRET_KEY). Rotating one gives the environment a new key; the old one keeps working for 24 hours."),
    box);
  async function load() {
    const res = await api("/dashboard/api/keys");
    swap(box, table("Secret keys", [
      { label: "Environment", cell: (k) => k.slug },
      { label: "Secret key", cell: (k) => {
        const code = h("code", { class: "mono secret", id: `key-${k.slug}`, "data-key": k.apiKey }, `${k.apiKey.slice(0, 10)}${"•".repeat(12)}`);
        let on = false;
        const show = h("button", { type: "button", class: "small secondary", "aria-label": `Show the ${k.slug} key`, "aria-controls": `key-${k.slug}`, onclick: () => {
          on = !on;
          code.textContent = on ? k.apiKey : `${k.apiKey.slice(0, 10)}${"•".repeat(12)}`;
          show.textContent = on ? "Hide" : "Show";
          show.setAttribute("aria-label", `${on ? "Hide" : "Show"} the ${k.slug} key`);
        } }, "Show");
        return h("span", {}, code, " ", show, " ",
          h("button", { type: "button", class: "small secondary", "aria-label": `Copy the ${k.slug} key`, onclick: () => copy(k.apiKey) }, "Copy"));
      } },
      { label: "Actions", cell: (k) => {
        const cell = h("span", {});
        const ask = () => cell.replaceChildren(h("span", {}, "Rotate? "),
          h("button", { type: "button", class: "danger", id: `rotate-confirm-${k.slug}`, onclick: async () => {
            try {
              await api(`/dashboard/api/env/${k.slug}/rotate-key`, { method: "POST" });
              toast(`The ${k.slug} key was rotated`);
              load();
            } catch (e) {
              toast(e.message, true);
            }
          } }, "Yes, rotate"),
          h("button", { type: "button", class: "secondary", onclick: () => cell.replaceChildren(btn) }, "No"));
        const btn = h("button", { type: "button", class: "secondary", id: `rotate-${k.slug}`, "aria-label": `Rotate the ${k.slug} key`, onclick: () => { ask(); document.getElementById(`rotate-confirm-${k.slug}`)?.focus(); } }, "Rotate…");
        cell.append(btn);
        return cell;
      } },
    ], res.data));
  }
  await load();
}

export const pages = {
  runs: runsPage, run: runPage, tasks: tasksPage, deployments: deploymentsPage, queues: queuesPage, schedules: schedulesPage,
  tokens: tokensPage, batches: batchesPage, sessions: sessionsPage, envvars: envvarsPage, keys: keysPage,
};
