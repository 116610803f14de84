// Integration: the dashboard under attack over plain HTTP: bad filter
// query params answer 4xx (never 500 or a crash), cancel/bulk over a
// finished run leaves it as it was, a bulk action over a filter that
// matches nothing finishes with zero, the CSRF token of another session or
// a logged-out cookie is refused, CLI links cannot inject headers, and
// asset names cannot walk out of the embedded set.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd } from "../lib/triggerd.mjs";
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

async function alive() {
  const res = await raw("GET", "/login");
  assert.equal(res.status, 200);
}

test("bad run filters answer 4xx, never 500", async () => {
  const s = await login();
  const qs = [
    "filter[createdAt][from]=notadate",
    "filter[createdAt][to]=9999999999999999999999",
    "filter[createdAt][period]=zzz",
    "filter[createdAt][period]=99999999999999d",
    "filter[status]=NOPE",
    "filter[status]=COMPLETED,,",
    "page[size]=100000000000000000000",
    "page[size]=-5",
    "page[size]=abc",
    "page[after]=%00%01garbage",
    "page[after]=" + "A".repeat(5000),
    "page[before]=run_doesnotexist",
    "filter[taskIdentifier]=" + "x".repeat(20000),
    "filter[tag]=" + Array.from({ length: 500 }, (_, i) => `t${i}`).join(","),
    "filter[bulkAction]=%ff%fe",
    "page=-1&perPage=0",
  ];
  for (const q of qs) {
    for (const path of [`/dashboard/api/env/dev/api/v1/runs?${q}`, `/dashboard/api/env/dev/api/v1/queues?${q}`, `/dashboard/api/env/dev/api/v1/schedules?${q}`, `/dashboard/api/env/dev/api/v1/waitpoints/tokens?${q}`, `/dashboard/api/env/dev/api/v1/sessions?${q}`, `/dashboard/api/env/dev/api/v1/deployments?${q}`]) {
      const res = await raw("GET", path, { headers: { cookie: s.cookie } });
      assert.ok(res.status < 500, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    const b = await raw("POST", `/dashboard/api/env/dev/bulk?${q}`, { headers: s.h, body: JSON.stringify({ action: "cancel" }) });
    assert.ok(b.status < 500, `bulk ${q}: ${b.status} ${b.text.slice(0, 200)}`);
  }
  await alive();
});

test("live, bulk progress, waitpoints and streams with garbage ids answer 4xx", async () => {
  const s = await login();
  for (const path of [
    "/dashboard/api/env/dev/bulk/%00",
    "/dashboard/api/env/dev/bulk/" + "x".repeat(4000),
    "/dashboard/api/env/dev/runs/" + "x".repeat(4000) + "/waitpoints",
    "/dashboard/api/env/dev/runs/%2e%2e/streams",
    "/dashboard/api/env/nope/tasks",
    "/dashboard/api/env/%2e%2e/tasks",
    "/dashboard/api/env/dev/api/v1/runs/run_nope/trace",
    "/dashboard/api/env/dev/api/v2/batches/batch_nope",
    "/dashboard/api/env/dev/api/v1/batches/batch_nope/results",
  ]) {
    const res = await raw("GET", path, { headers: { cookie: s.cookie } });
    assert.ok(res.status < 500, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
  }
  await alive();
});

test("a live offset that does not fit answers 400 at once instead of holding", async () => {
  const s = await login();
  for (const a of ["abc", "-2", "1e3", "99999999999999999999999"]) {
    const res = await raw("GET", `/dashboard/api/env/dev/live?after=${a}`, { headers: { cookie: s.cookie } });
    assert.equal(res.status, 400, `after=${a}: ${res.status} ${res.text}`);
  }
});

test("a NUL in a path parameter matches nothing (no aliasing of ids or asset names)", async () => {
  const s = await login();
  const res = await raw("GET", "/dashboard/assets/app.js%00.css");
  assert.equal(res.status, 404);
  const put = await raw("PUT", "/dashboard/api/env/dev/api/v1/projects/proj/envvars/dev/FOO%00BAR", { headers: s.h, body: JSON.stringify({ value: "x" }) });
  assert.ok(put.status === 404 || put.status === 400, `${put.status} ${put.text}`);
});

test("asset names cannot leave the embedded set", async () => {
  for (const p of ["/dashboard/assets/..%2f..%2fmeson.build", "/dashboard/assets/%2e%2e", "/dashboard/assets/index.html", "/dashboard/assets/app.js%00.css", "/dashboard/assets/../api/keys"]) {
    const res = await raw("GET", p);
    assert.ok(res.status === 404 || res.status === 400 || res.status === 401, `${p}: ${res.status}`);
    assert.ok(!/apiKey|tr_dev_/.test(res.text), p);
  }
});

test("a CLI link cannot inject a header into its redirect", async () => {
  const s = await login();
  const res = await raw("GET", "/projects/v3/proj/runs/run_x%0d%0aset-cookie:%20evil=1", { headers: { cookie: s.cookie } });
  assert.ok(res.status < 500, String(res.status));
  assert.equal(res.headers["set-cookie"], undefined);
  for (const v of Object.values(res.headers)) assert.ok(!/[\r\n]/.test(String(v)));
});

test("another session's CSRF token and a logged-out cookie are refused", async () => {
  const a = await login();
  const b = await login();
  const cross = await raw("POST", "/dashboard/api/env/dev/rotate-key", { headers: { ...a.h, "x-csrf-token": b.csrf }, body: "{}" });
  assert.equal(cross.status, 403);
  const out = await raw("POST", "/logout", { headers: b.h, body: "{}" });
  assert.equal(out.status, 200);
  for (const [m, p] of [["GET", "/dashboard/api/keys"], ["GET", "/dashboard/api/env/dev/api/v1/runs"], ["POST", "/dashboard/api/env/dev/bulk"]]) {
    const res = await raw(m, p, { headers: b.h, body: m === "POST" ? JSON.stringify({ action: "cancel" }) : undefined });
    assert.equal(res.status, 401, `${m} ${p}`);
  }
  const idx = await raw("GET", "/", { headers: { cookie: b.cookie } });
  assert.equal(idx.status, 302);
  // a forged cookie of the right shape
  const forged = await raw("GET", "/dashboard/api/keys", { headers: { cookie: `${a.cookie.split("=")[0]}=${"0".repeat(64)}` } });
  assert.equal(forged.status, 401);
});

async function bulkDone(s, q, action) {
  const b = await raw("POST", `/dashboard/api/env/dev/bulk?${q}`, { headers: s.h, body: JSON.stringify({ action }) });
  assert.equal(b.status, 202, b.text);
  for (let i = 0; i < 200; i++) {
    const g = (await raw("GET", `/dashboard/api/env/dev/bulk/${b.json().id}`, { headers: { cookie: s.cookie } })).json();
    if (g.done) return g;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("bulk action never finished");
}

test("a finished run stays as it was under cancel and bulk cancel; an empty filter matches nothing", async () => {
  const s = await login();
  const t = await raw("POST", "/dashboard/api/env/dev/api/v1/tasks/adv-finished/trigger", { headers: s.h, body: JSON.stringify({ payload: { a: 1 }, options: { tags: ["adv14"] } }) });
  assert.equal(t.status, 200, t.text);
  const id = t.json().id;
  const c1 = await raw("POST", `/dashboard/api/env/dev/api/v2/runs/${id}/cancel`, { headers: s.h, body: "{}" });
  assert.equal(c1.status, 200, c1.text);
  const before = (await raw("GET", `/dashboard/api/env/dev/api/v3/runs/${id}`, { headers: { cookie: s.cookie } })).json();
  assert.equal(before.status, "CANCELED");
  await raw("POST", `/dashboard/api/env/dev/api/v2/runs/${id}/cancel`, { headers: s.h, body: "{}" });
  const g = await bulkDone(s, "filter[tag]=adv14", "cancel");
  assert.equal(g.succeeded, 0, JSON.stringify(g));
  const after = (await raw("GET", `/dashboard/api/env/dev/api/v3/runs/${id}`, { headers: { cookie: s.cookie } })).json();
  assert.equal(after.status, "CANCELED");
  assert.equal(after.updatedAt, before.updatedAt);
  assert.equal(after.finishedAt, before.finishedAt);
  const empty = await bulkDone(s, "filter[taskIdentifier]=no-such-task-adv14", "replay");
  assert.equal(empty.matched, 0);
  assert.equal(empty.succeeded, 0);
});
