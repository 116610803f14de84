// Integration: the dashboard's server side (src/dash) over plain HTTP, no
// browser: the login form's unhappy paths, the guard of every data
// endpoint, the forwarding to the public API's handlers (only routes a
// secret key may call, their body limits), the embedded assets (ETag, 304),
// the live long-poll (an offset, a parked poll woken by a trigger, bad
// input), logout, and a restart (sessions live in memory: the cookie dies).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd } from "../lib/triggerd.mjs";
import { dashRaw } from "./dashboard-http.mjs";

let srv;
before(async () => {
  srv = await startTriggerd();
});
after(async () => {
  await srv?.stop();
});

const raw = (...a) => dashRaw(srv, ...a);

const form = (token) => ({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: `token=${token}` });

async function login() {
  const res = await raw("POST", "/login", form(encodeURIComponent(srv.pat)));
  assert.equal(res.status, 303);
  assert.equal(res.headers.location, "/");
  const cookie = res.headers["set-cookie"][0];
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/);
  const c = cookie.split(";")[0];
  const { csrf } = (await raw("GET", "/dashboard/api/session", { headers: { cookie: c } })).json();
  assert.match(csrf, /^[0-9a-f]{64}$/);
  return { cookie: c, csrf };
}

test("the login form refuses empty, wrong, NUL-cut and non-PAT tokens; a PAT behind https gets a Secure cookie", async () => {
  for (const [body, status] of [["", 400], ["token=", 400], ["token=%20%20", 400], ["token=tr_pat_nope", 401],
    [`token=${srv.keys.dev}`, 401], [`token=${srv.pat}%00x`, 400], [`token=${srv.pat.slice(0, -1)}`, 401]]) {
    const res = await raw("POST", "/login", { headers: { "content-type": "application/x-www-form-urlencoded" }, body });
    assert.equal(res.status, status, body);
    assert.equal(res.headers["set-cookie"], undefined, body);
    assert.match(res.text, /<label for="token">Personal access token<\/label>/);
  }
  // the error text is escaped
  const page = await raw("GET", "/login");
  assert.equal(page.status, 200);
  assert.match(page.headers["content-security-policy"], /default-src 'self'/);
  const tls = await raw("POST", "/login", { headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-proto": "https" }, body: `token=${srv.pat}` });
  assert.match(tls.headers["set-cookie"][0], /; Secure/);
  // same-origin browser forms are fine
  const same = await raw("POST", "/login", { headers: { "content-type": "application/x-www-form-urlencoded", origin: srv.url, "sec-fetch-site": "same-origin" }, body: `token=${srv.pat}` });
  assert.equal(same.status, 303);
  // logged in, /login sends you on
  const cookie = same.headers["set-cookie"][0].split(";")[0];
  const again = await raw("GET", "/login", { headers: { cookie } });
  assert.equal(again.status, 302);
  assert.equal(again.headers.location, "/");
});

test("forwarding reaches only the routes a secret key may call, with their limits", async () => {
  const { cookie, csrf } = await login();
  const h = { cookie, "x-csrf-token": csrf, "content-type": "application/json" };
  const cases = [
    ["GET", "/dashboard/api/env/nope/api/v1/runs", 404],
    ["GET", "/dashboard/api/env/dev", 404],
    ["GET", "/dashboard/api/env/dev/", 404],
    ["GET", "/dashboard/api/env/dev/api/v1/projects", 404], // PAT only
    ["GET", "/dashboard/api/env/dev/healthz", 404], // no auth: not forwarded
    ["GET", "/dashboard/api/env/dev/objects/x", 404],
    ["GET", "/dashboard/api/env/dev/api/v1/nothing", 404],
    ["DELETE", "/dashboard/api/env/dev/api/v1/runs", 405],
    ["GET", "/dashboard/api/env/dev/api/v1/runs?page[size]=1000", 400], // the API's own validation
    ["GET", "/dashboard/api/env/dev/api/v3/runs/run_nope", 404],
  ];
  for (const [method, path, status] of cases) {
    const res = await raw(method, path, { headers: h });
    assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
    assert.equal(res.headers["access-control-allow-origin"], undefined, "no CORS on the dashboard");
  }
  // the route's body limit holds (schedules: 64 KiB)
  const big = await raw("POST", "/dashboard/api/env/dev/api/v1/schedules", { headers: h, body: JSON.stringify({ x: "y".repeat(70 * 1024) }) });
  assert.equal(big.status, 413);
  // a trigger through the dashboard lands in the environment it names
  const trig = await raw("POST", "/dashboard/api/env/stg/api/v1/tasks/dash-int/trigger", { headers: h, body: JSON.stringify({ payload: { a: 1 }, options: { delay: "1h" } }) });
  assert.equal(trig.status, 200, trig.text);
  const { id } = trig.json();
  const inStg = await fetch(`${srv.url}/api/v3/runs/${id}`, { headers: { authorization: `Bearer ${srv.keys.stg}` } });
  assert.equal(inStg.status, 200);
  const inDev = await fetch(`${srv.url}/api/v3/runs/${id}`, { headers: { authorization: `Bearer ${srv.keys.dev}` } });
  assert.equal(inDev.status, 404);
});

test("assets are embedded, with an ETag and 304; the page itself needs the session", async () => {
  const js = await raw("GET", "/dashboard/assets/app.js");
  assert.equal(js.status, 200);
  assert.match(js.headers["content-type"], /text\/javascript/);
  assert.match(js.headers.etag, /^"[0-9a-f]{16}"$/);
  const again = await raw("GET", "/dashboard/assets/app.js", { headers: { "if-none-match": js.headers.etag } });
  assert.equal(again.status, 304);
  assert.equal(again.text, "");
  for (const p of ["/dashboard/assets/index.html", "/dashboard/assets/nope.js", "/dashboard/assets/..%2Fmeson.build"])
    assert.equal((await raw("GET", p)).status, 404, p);
  assert.equal((await raw("GET", "/")).status, 302);
  const { cookie } = await login();
  const s = (await raw("GET", "/dashboard/api/session", { headers: { cookie } })).json();
  assert.deepEqual(s.features, { queues: true, trace: true, deployments: true }, "the pages this build's API serves");
  assert.deepEqual(s.envs.map((e) => e.slug), ["dev", "stg", "prod"]);
  const deps = await raw("GET", "/dashboard/api/env/prod/api/v1/deployments", { headers: { cookie } });
  assert.equal(deps.status, 200, deps.text);
  assert.deepEqual(deps.json().data, []);
  const page = await raw("GET", "/", { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(page.text, /\/dashboard\/assets\/app\.js/);
  assert.equal(page.headers["cache-control"], "no-store");
  assert.equal(page.headers["x-frame-options"], "DENY");
});

test("live: an offset, a parked poll woken by a trigger, bad offsets refused", async () => {
  const { cookie } = await login();
  const get = (q) => raw("GET", `/dashboard/api/env/dev/live${q}`, { headers: { cookie } });
  const { offset } = (await get("")).json();
  assert.ok(Number.isInteger(offset));
  for (const bad of ["?after=x", "?after=-5", "?after=1x"]) assert.equal((await get(bad)).status, 400, bad);
  assert.equal((await raw("GET", "/dashboard/api/env/nope/live", { headers: { cookie } })).status, 404);
  const t0 = Date.now();
  const parked = get(`?after=${offset}`);
  await new Promise((r) => setTimeout(r, 300));
  const res = await fetch(`${srv.url}/api/v1/tasks/dash-live/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
    body: JSON.stringify({ payload: {}, options: { delay: "1h" } }),
  });
  const { id } = await res.json();
  const woke = (await parked).json();
  assert.ok(Date.now() - t0 < 5000, "answered at the change, not the deadline");
  assert.ok(woke.offset > offset);
  assert.deepEqual(woke.changes.map((c) => c.id), [id]);
  // a poll from an old offset gets what it missed at once
  const missed = (await get(`?after=${offset}`)).json();
  assert.ok(missed.changes.some((c) => c.id === id && c.status === "DELAYED"));
  // another environment's feed does not carry it (stg has the run the forwarding test made)
  const stg = (await raw("GET", "/dashboard/api/env/stg/live?after=0", { headers: { cookie } })).json();
  assert.ok(stg.changes.length >= 1);
  assert.ok(!stg.changes.some((c) => c.id === id));
});

test("the Runs page's tag filter: tags added later, any of several tags, cursor pages (the run_tags index)", async () => {
  const { cookie } = await login();
  const call = async (method, path, body) => {
    const res = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status}`);
    return res.json();
  };
  const ids = [];
  for (let i = 0; i < 5; i++)
    ids.push((await call("POST", "/api/v1/tasks/dash-tags/trigger", { payload: { i }, options: { delay: "1h", tags: [`tg-${i % 2}`, "tg-all"] } })).id);
  await call("POST", `/api/v1/runs/${ids[0]}/tags`, { tags: ["tg-late"] });
  const list = async (q) => (await raw("GET", `/dashboard/api/env/dev/api/v1/runs?${q}`, { headers: { cookie } })).json();
  assert.deepEqual((await list("filter[tag]=tg-late")).data.map((r) => r.id), [ids[0]], "a tag added after the trigger");
  assert.deepEqual((await list("filter[tag]=tg-0")).data.map((r) => r.id), [ids[4], ids[2], ids[0]]);
  assert.deepEqual((await list("filter[tag]=tg-0,tg-late,tg-all")).data.map((r) => r.id), [...ids].reverse(), "any of the tags, each run once");
  assert.deepEqual((await list("filter[tag]=tg-nope")).data, []);
  // cursor pages through one tag, with another filter on top
  const p1 = await list("filter[tag]=tg-all&page[size]=2&filter[taskIdentifier]=dash-tags");
  assert.deepEqual(p1.data.map((r) => r.id), [ids[4], ids[3]]);
  const p2 = await list(`filter[tag]=tg-all&page[size]=2&filter[taskIdentifier]=dash-tags&page[after]=${p1.pagination.next}`);
  assert.deepEqual(p2.data.map((r) => r.id), [ids[2], ids[1]]);
  const back = await list(`filter[tag]=tg-all&page[size]=2&filter[taskIdentifier]=dash-tags&page[before]=${p2.pagination.previous}`);
  assert.deepEqual(back.data.map((r) => r.id), [ids[4], ids[3]]);
  // another environment's run with the same tag stays out
  await fetch(`${srv.url}/api/v1/tasks/dash-tags/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.stg}`, "content-type": "application/json" },
    body: JSON.stringify({ payload: {}, options: { delay: "1h", tags: ["tg-all"] } }),
  });
  assert.equal((await list("filter[tag]=tg-all")).data.length, 5);
});

test("the CLI's dashboard links lead to the dashboard's pages", async () => {
  const res = await fetch(`${srv.url}/api/v1/tasks/dash-link/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${srv.keys.prod}`, "content-type": "application/json" },
    body: JSON.stringify({ payload: {}, options: { delay: "1h" } }),
  });
  const { id } = await res.json();
  const ref = srv.projectRef;
  assert.equal((await raw("GET", `/projects/v3/${ref}/runs/${id}`)).headers.location, "/login", "no session: the login, and no lookup");
  const { cookie } = await login();
  for (const [path, to] of [
    [`/projects/v3/${ref}/runs/${id}`, `/#/prod/run/${id}`],
    [`/projects/v3/${ref}/runs?envSlug=stg`, "/#/stg/runs"],
    [`/projects/v3/${ref}/runs?envSlug=nope`, "/#/dev/runs"],
    [`/projects/v3/${ref}`, "/#/dev/runs"],
    [`/projects/v3/${ref}/runs/run_nope`, "/#/dev/runs"],
    [`/projects/v3/${ref}/test?environment=dev`, "/#/dev/runs"],
  ]) {
    const r = await raw("GET", path, { headers: { cookie } });
    assert.equal(r.status, 302, path);
    assert.equal(r.headers.location, to, path);
  }
});

test("logout needs the CSRF header and ends the session; a restart ends every session", async () => {
  const a = await login();
  assert.equal((await raw("POST", "/logout", { headers: { cookie: a.cookie } })).status, 403);
  const out = await raw("POST", "/logout", { headers: { cookie: a.cookie, "x-csrf-token": a.csrf } });
  assert.equal(out.status, 200);
  assert.match(out.headers["set-cookie"][0], /Max-Age=0/);
  assert.equal((await raw("GET", "/dashboard/api/session", { headers: { cookie: a.cookie } })).status, 401);
  assert.equal((await raw("POST", "/logout", { headers: { cookie: a.cookie, "x-csrf-token": a.csrf } })).status, 401);
  const b = await login();
  await srv.restart();
  assert.equal((await raw("GET", "/dashboard/api/session", { headers: { cookie: b.cookie } })).status, 401);
  assert.equal((await raw("GET", "/", { headers: { cookie: b.cookie } })).status, 302);
});
