// Integration: the dashboard's actions over plain HTTP: bulk cancel and
// replay of a filtered set done by the server (an engine bulk action,
// engine/bulk.c) over more runs than one of its pages, its replays not
// replayed again; every dashboard route refusing a request without the
// session cookie (enumerated from one list that mirrors src/dash/routes.c);
// the data endpoints outside the API's rate limit while a brute-forced
// login form is throttled; a run's stream keys; promote refused for a
// deployment that is not DEPLOYED.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startTriggerd, ROOT } from "../lib/triggerd.mjs";
import { dashRaw, dashLogin } from "./dashboard-http.mjs";

let srv;
before(async () => {
  srv = await startTriggerd();
});
after(async () => {
  await srv?.stop();
});

const raw = (...a) => dashRaw(srv, ...a);

const login = () => dashLogin(srv);

async function call(method, path, body, key = srv.keys.dev) {
  const res = await fetch(`${srv.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function until(what, fn, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    if ((last = await fn())) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what} (last ${JSON.stringify(last)})`);
}

/** n delayed runs of task with tag, through the batch API (500 a call); their ids. */
async function seed(task, tag, n) {
  for (let i = 0; i < n; i += 500) {
    const items = [];
    for (let k = i; k < Math.min(n, i + 500); k++) items.push({ task, payload: JSON.stringify({ k }), options: { delay: "1h", tags: [tag] } });
    await call("POST", "/api/v2/tasks/batch", { items });
  }
  const runs = await until(`${n} runs of ${tag}`, async () => {
    const r = await listAll(`filter[tag]=${tag}`);
    return r.length === n && r;
  });
  return runs.map((r) => r.id);
}

/** Every run of the list query q (all pages). */
async function listAll(q) {
  const out = [];
  let after = null;
  for (;;) {
    const r = await call("GET", `/api/v1/runs?${q}&page[size]=100${after ? `&page[after]=${after}` : ""}`);
    out.push(...r.data);
    after = r.pagination?.next;
    if (!after) return out;
  }
}

async function bulk(s, q, action) {
  const start = await raw("POST", `/dashboard/api/env/dev/bulk?${q}`, { headers: s.h, body: JSON.stringify({ action }) });
  assert.equal(start.status, 202, start.text);
  const { id } = start.json();
  assert.match(id, /^bulk_/);
  return until(`bulk ${action} ends`, async () => {
    const r = await raw("GET", `/dashboard/api/env/dev/bulk/${id}`, { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200, r.text);
    const j = r.json();
    return j.done && j;
  }, 60000);
}

test("bulk cancel applies to every run matching the filter, across pages, and to nothing else", async () => {
  const s = await login();
  const ids = await seed("bulk-a", "bulk-c", 250); // more than the engine's page of 100
  const other = await seed("bulk-a", "bulk-keep", 3);
  const done = await bulk(s, "filter[tag]=bulk-c", "cancel");
  assert.deepEqual({ matched: done.matched, succeeded: done.succeeded, skipped: done.skipped, failed: done.failed },
    { matched: 250, succeeded: 250, skipped: 0, failed: 0 });
  const runs = await listAll("filter[tag]=bulk-c");
  assert.equal(runs.length, 250);
  assert.deepEqual(new Set(runs.map((r) => r.status)), new Set(["CANCELED"]));
  assert.deepEqual(new Set(runs.map((r) => r.id)), new Set(ids));
  for (const id of other) assert.equal((await call("GET", `/api/v3/runs/${id}`)).status, "DELAYED", "outside the filter");
  // again: every run is final now, so each is skipped
  const again = await bulk(s, "filter[tag]=bulk-c", "cancel");
  assert.equal(again.skipped, 250);
  assert.equal(again.succeeded, 0);
  // a status filter narrows it: nothing CANCELED matches DELAYED
  const none = await bulk(s, "filter[tag]=bulk-c&filter[status]=DELAYED", "cancel");
  assert.equal(none.matched, 0);
});

test("bulk replay replays each matching run once: its own replays are not part of the set", async () => {
  const s = await login();
  await seed("bulk-r", "bulk-replay", 130);
  const done = await bulk(s, "filter[tag]=bulk-replay", "replay");
  assert.equal(done.matched, 130);
  assert.equal(done.succeeded, 130);
  // the replays carry the tag too: 260 runs now, not more
  const runs = await listAll("filter[tag]=bulk-replay");
  assert.equal(runs.length, 260);
});

test("a restart in the middle of a bulk cancel: what it did stays done, the job is gone, a new one finishes", async () => {
  let s = await login();
  await seed("bulk-m", "bulk-mid", 400);
  const start = await raw("POST", "/dashboard/api/env/dev/bulk?filter[tag]=bulk-mid", { headers: s.h, body: JSON.stringify({ action: "cancel" }) });
  assert.equal(start.status, 202);
  await srv.restart();
  s = await login();
  assert.equal((await raw("GET", `/dashboard/api/env/dev/bulk/${start.json().id}`, { headers: { cookie: s.cookie } })).status, 404);
  const runs = await listAll("filter[tag]=bulk-mid");
  assert.equal(runs.length, 400);
  assert.ok(runs.every((r) => r.status === "CANCELED" || r.status === "DELAYED"), "each run is either cancelled or untouched");
  const done = await bulk(s, "filter[tag]=bulk-mid", "cancel");
  assert.equal(done.matched, 400);
  assert.equal(done.succeeded + done.skipped, 400);
  assert.deepEqual(new Set((await listAll("filter[tag]=bulk-mid")).map((r) => r.status)), new Set(["CANCELED"]));
});

test("bulk: bad input, another environment, no CSRF header", async () => {
  const s = await login();
  for (const [q, body, status] of [
    ["", { action: "delete" }, 400],
    ["", {}, 400],
    ["filter[status]=NOPE", { action: "cancel" }, 400],
    ["filter[createdAt][period]=forever", { action: "cancel" }, 400],
  ]) {
    const r = await raw("POST", `/dashboard/api/env/dev/bulk?${q}`, { headers: s.h, body: JSON.stringify(body) });
    assert.equal(r.status, status, `${q} ${JSON.stringify(body)}: ${r.text}`);
  }
  const bad = await raw("POST", "/dashboard/api/env/dev/bulk", { headers: s.h, body: "{" });
  assert.equal(bad.status, 400);
  const noCsrf = await raw("POST", "/dashboard/api/env/dev/bulk", { headers: { cookie: s.cookie, "content-type": "application/json" }, body: JSON.stringify({ action: "cancel" }) });
  assert.equal(noCsrf.status, 403);
  // a job of dev is not visible from prod; an unknown id is 404
  const j = await bulk(s, "filter[tag]=nothing-has-this", "cancel");
  assert.equal(j.matched, 0);
  assert.equal((await raw("GET", `/dashboard/api/env/prod/bulk/${j.id}`, { headers: { cookie: s.cookie } })).status, 404);
  assert.equal((await raw("GET", "/dashboard/api/env/dev/bulk/bulk_nope", { headers: { cookie: s.cookie } })).status, 404);
  // runs of stg with the same tag are not touched by a dev action
  const stg = await call("POST", "/api/v1/tasks/bulk-s/trigger", { payload: {}, options: { delay: "1h", tags: ["bulk-x"] } }, srv.keys.stg);
  await bulk(s, "filter[tag]=bulk-x", "cancel");
  assert.equal((await call("GET", `/api/v3/runs/${stg.id}`, undefined, srv.keys.stg)).status, "DELAYED");
});

// Every dashboard route (src/dash/routes.c) but the login page, its form
// and the assets, with a path for each parameter.
const GUARDED = [
  ["GET", "/dashboard/api/session"],
  ["GET", "/dashboard/api/keys"],
  ["POST", "/dashboard/api/env/dev/rotate-key"],
  ["GET", "/dashboard/api/env/dev/tasks"],
  ["GET", "/dashboard/api/env/dev/live"],
  ["GET", "/dashboard/api/env/dev/live?after=0"],
  ["GET", "/dashboard/api/env/dev/runs/RUN/waitpoints"],
  ["GET", "/dashboard/api/env/dev/runs/RUN/streams"],
  ["POST", "/dashboard/api/env/dev/bulk"],
  ["GET", "/dashboard/api/env/dev/bulk/bulk_x"],
  ["GET", "/dashboard/api/env/dev/api/v1/runs"],
  ["GET", "/dashboard/api/env/dev/api/v3/runs/RUN"],
  ["GET", "/dashboard/api/env/dev/api/v1/runs/RUN/events"],
  ["GET", "/dashboard/api/env/dev/api/v1/runs/RUN/trace"],
  ["GET", "/dashboard/api/env/dev/realtime/v1/streams/RUN/out"],
  ["POST", "/dashboard/api/env/dev/api/v2/runs/RUN/cancel"],
  ["PUT", "/dashboard/api/env/dev/api/v1/projects/REF/envvars/dev/X"],
  ["PATCH", "/dashboard/api/env/dev/api/v1/queues/x"],
  ["DELETE", "/dashboard/api/env/dev/api/v1/projects/REF/envvars/dev/X"],
  ["GET", "/dashboard/api/env/prod/api/v1/deployments"],
  ["POST", "/logout"],
];

test("the list of guarded routes covers every route of src/dash/routes.c", () => {
  const src = readFileSync(join(ROOT, "src/dash/routes.c"), "utf8");
  const table = src.slice(src.indexOf("const http_route dash_routes[]"));
  const routes = [...table.matchAll(/\{"([A-Z]+)", "([^"]+)"/g)].map((m) => [m[1], m[2]]);
  assert.ok(routes.length >= 15, `parsed ${routes.length} routes`);
  const open = new Set(["/", "/login", "/dashboard/assets/:name", "/projects/v3/:ref", "/projects/v3/:ref/*"]);
  for (const [method, pattern] of routes) {
    if (open.has(pattern)) continue;
    const re = new RegExp(`^${pattern.replace(/:[a-zA-Z]+/g, "[^/]+").replace("*", ".+")}(\\?.*)?$`);
    assert.ok(GUARDED.some(([m, p]) => m === method && re.test(p)), `${method} ${pattern} is in GUARDED`);
  }
  // the forwarding (FWD) of every method
  for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE"])
    assert.ok(GUARDED.some(([gm, p]) => gm === m && p.startsWith("/dashboard/api/env/dev/api/")), `forwarded ${m}`);
});

test("no dashboard page or data endpoint answers without the session cookie", async () => {
  const { id } = await call("POST", "/api/v1/tasks/dash-guard/trigger", { payload: { secret: "s3cr3t" }, options: { delay: "1h" } });
  const bad = [{}, { cookie: "triggerd_session=" + "0".repeat(64) }, { cookie: "triggerd_session=x" },
    { authorization: `Bearer ${srv.keys.dev}` }, { authorization: `Bearer ${srv.pat}` }];
  for (const [method, p] of GUARDED) {
    const path = p.replace("RUN", id).replace("REF", srv.projectRef);
    for (const headers of bad) {
      const r = await raw(method, path, { headers: { ...headers, "content-type": "application/json" }, body: method === "POST" || method === "PUT" || method === "PATCH" ? "{}" : undefined });
      assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}: ${r.status} ${r.text}`);
      assert.ok(!r.text.includes(id) && !r.text.includes("s3cr3t") && !r.text.includes(srv.keys.dev), `${path} leaks nothing`);
    }
  }
  // the pages themselves lead to the login
  for (const p of ["/", `/projects/v3/${srv.projectRef}`, `/projects/v3/${srv.projectRef}/runs/${id}`]) {
    const r = await raw("GET", p);
    assert.equal(r.status, 302, p);
    assert.equal(r.headers.location, "/login", p);
    assert.ok(!r.text.includes(id));
  }
  assert.equal((await call("GET", `/api/v3/runs/${id}`)).status, "DELAYED", "nothing was cancelled");
  // with a session every guarded GET answers (no 401)
  const s = await login();
  for (const [method, p] of GUARDED.filter(([m]) => m === "GET")) {
    const path = p.replace("RUN", id).replace("REF", srv.projectRef);
    if (path.includes("/streams/") || path.includes("/live?")) continue; // SSE / long-poll: they hold
    const r = await raw(method, path, { headers: { cookie: s.cookie } });
    assert.notEqual(r.status, 401, `${method} ${path}`);
  }
});

test("a run's stream keys; promote of a deployment that is not DEPLOYED is refused through the dashboard", async () => {
  const s = await login();
  const { id } = await call("POST", "/api/v1/tasks/dash-streams/trigger", { payload: {}, options: { delay: "1h" } });
  const keys = () => raw("GET", `/dashboard/api/env/dev/runs/${id}/streams`, { headers: { cookie: s.cookie } });
  assert.deepEqual((await keys()).json(), { data: [] });
  for (const key of ["out", "second"]) {
    const r = await fetch(`${srv.url}/realtime/v1/streams/${id}/self/${key}`, { method: "PUT", headers: { authorization: `Bearer ${srv.keys.dev}` } });
    assert.ok(r.ok, `${r.status}`);
  }
  assert.deepEqual((await keys()).json(), { data: ["out", "second"] });
  assert.equal((await raw("GET", "/dashboard/api/env/dev/runs/run_nope/streams", { headers: { cookie: s.cookie } })).status, 404);
  // dev has no deployments: the promote route is the API's own (its 4xx, not a dashboard 404)
  const pr = await raw("POST", "/dashboard/api/env/prod/api/v1/deployments/20990101.1/promote", { headers: s.h, body: "{}" });
  assert.equal(pr.status, 404, pr.text);
});

test("the dashboard's data endpoints are outside the API rate limit; failed logins are throttled", async () => {
  // a server of its own: a low API limit, and the lock-out of this address
  const main = srv;
  srv = await startTriggerd({ args: ["--rate-limit", "60"] });
  try {
    await limits();
  } finally {
    await srv.stop();
    srv = main;
  }
});

async function limits() {
  const s = await login();
  // this server allows 60 API requests a window: the dashboard makes 150
  for (let i = 0; i < 150; i++) {
    const r = await raw("GET", "/dashboard/api/env/dev/api/v1/runs?page[size]=1", { headers: { cookie: s.cookie } });
    assert.equal(r.status, 200, `request ${i}: ${r.text}`);
  }
  // ...while the API itself is limited
  let limited = false;
  for (let i = 0; i < 80 && !limited; i++) {
    const r = await fetch(`${srv.url}/api/v1/runs?page[size]=1`, { headers: { authorization: `Bearer ${srv.keys.prod}` } });
    limited = r.status === 429;
  }
  assert.ok(limited, "the API has a limit");
  // ten wrong tokens, then the form refuses even the right one for a while
  const form = (t) => ({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${t}` });
  for (let i = 0; i < 10; i++) assert.equal((await raw("POST", "/login", form(`tr_pat_wrong${i}`))).status, 401);
  const locked = await raw("POST", "/login", form(srv.pat));
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers["retry-after"]) > 0);
  assert.match(locked.text, /Too many failed logins/);
  assert.equal(locked.headers["set-cookie"], undefined);
  // an existing session is not affected
  assert.equal((await raw("GET", "/dashboard/api/session", { headers: { cookie: s.cookie } })).status, 200);
}

test("served as https (--public-url https://...): the session cookie is Secure, on login and logout", async () => {
  const main = srv;
  srv = await startTriggerd({ args: ["--public-url", "https://triggerd.example"] });
  try {
    const res = await raw("POST", "/login", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${srv.pat}` });
    assert.equal(res.status, 303);
    const set = res.headers["set-cookie"][0];
    assert.match(set, /; HttpOnly; SameSite=Strict;.*; Secure$/);
    const cookie = set.split(";")[0];
    const { csrf } = (await raw("GET", "/dashboard/api/session", { headers: { cookie } })).json();
    const out = await raw("POST", "/logout", { headers: { cookie, "x-csrf-token": csrf } });
    assert.match(out.headers["set-cookie"][0], /Max-Age=0; Secure$/);
  } finally {
    await srv.stop();
    srv = main;
  }
});

test("the created-at window: exactly the runs created since its start, across pages and with a tag; an empty window is empty", async () => {
  const made = [];
  for (let i = 0; i < 12; i++) {
    const r = await call("POST", "/api/v1/tasks/dash-window/trigger", { payload: { i }, options: { delay: "1h", tags: ["win"] } });
    made.push({ id: r.id, at: Date.parse((await call("GET", `/api/v3/runs/${r.id}`)).createdAt) });
    await new Promise((res) => setTimeout(res, 15));
  }
  for (const k of [0, 5, 11]) {
    const from = made[k].at;
    const want = made.filter((m) => m.at >= from).map((m) => m.id).reverse();
    const all = await listAll(`filter[taskIdentifier]=dash-window&filter[createdAt][from]=${from}`);
    assert.deepEqual(all.map((r) => r.id), want, `from run ${k}`);
    const paged = [];
    let after = null;
    for (;;) {
      const r = await call("GET", `/api/v1/runs?filter[tag]=win&filter[createdAt][from]=${from}&page[size]=3${after ? `&page[after]=${after}` : ""}`);
      paged.push(...r.data.map((x) => x.id));
      if (!(after = r.pagination?.next)) break;
    }
    assert.deepEqual(paged, want, `from run ${k}, by tag, pages of 3`);
  }
  assert.deepEqual((await call("GET", `/api/v1/runs?filter[createdAt][from]=${Date.now() + 60000}`)).data, []);
  // a window with an end: from run 3 to run 8, and one ending before every run
  const to = made[8].at;
  const between = made.filter((m) => m.at >= made[3].at && m.at <= to).map((m) => m.id).reverse();
  assert.deepEqual((await listAll(`filter[taskIdentifier]=dash-window&filter[createdAt][from]=${made[3].at}&filter[createdAt][to]=${to}`)).map((r) => r.id), between);
  assert.deepEqual((await listAll(`filter[tag]=win&filter[createdAt][to]=${to}`)).map((r) => r.id), made.filter((m) => m.at <= to).map((m) => m.id).reverse());
  assert.deepEqual((await call("GET", `/api/v1/runs?filter[taskIdentifier]=dash-window&filter[createdAt][to]=${made[0].at - 1}`)).data, []);
  assert.equal((await call("GET", "/api/v1/runs?filter[createdAt][period]=1h&page[size]=100")).data.length >= 12, true);
});
