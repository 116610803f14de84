// tests/integration/schedules.test.mjs - schedules over plain HTTP: CRUD
// with dedup, the API's validation messages, nextRun across DST, and ticks
// that fire exactly once: on the minute, across a SIGTERM restart that
// spans a tick (the v4.5 catch-up: one late fire, docs/schedules.md), across
// a SIGKILL right at a tick, and 10,000 schedules idle then all due in one
// minute. The firing tests wait for real minute boundaries (~5 minutes).
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startTriggerd, api, expectStatus, sleep, uid, waitFor } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

const MIN = 60000;
/** ms until `offset` ms past the next minute boundary (the one at least `margin` ahead) */
function untilMinute(offset = 0, margin = 3000) {
  const now = Date.now();
  let b = now - (now % MIN) + MIN;
  if (b + offset - now < margin) b += MIN;
  return { boundary: b, wait: b + offset - now };
}

async function runsOf(srv, schedId, key) {
  const all = [];
  let after;
  for (;;) {
    const q = `/api/v1/runs?page[size]=100&filter[schedule]=${schedId}` + (after ? `&page[after]=${after}` : "");
    const r = await api(srv, "GET", q, { key });
    expectStatus(r, 200, "runs list:");
    all.push(...r.json.data);
    after = r.json.pagination.next;
    if (!after) return all;
  }
}

async function create(srv, body, key, status = 200) {
  const r = await api(srv, "POST", "/api/v1/schedules", { body, key });
  expectStatus(r, status, `create ${JSON.stringify(body)}:`);
  return r.json;
}

describe("schedules API", () => {
  let srv, task;
  before(async () => {
    srv = await startTriggerd();
    task = uid("sched-");
    await new FakeWorker(srv).register([{ id: task, triggerSource: "schedule" }, { id: "plain-task" }]);
  });
  after(async () => srv && (await srv.stop()));

  test("create upserts by deduplicationKey; retrieve by id or key; update; list pages", async () => {
    const a = await create(srv, { task, cron: "0 9 * * *", deduplicationKey: "daily", externalId: "u1" });
    assert.match(a.id, /^sched_[1-9a-km-z]{21}$/);
    assert.equal(a.type, "IMPERATIVE");
    assert.equal(a.active, true);
    assert.equal(a.timezone, "UTC");
    assert.equal(a.deduplicationKey, "daily");
    assert.equal(a.externalId, "u1");
    assert.deepEqual(a.generator.type, "CRON");
    assert.equal(a.generator.expression, "0 9 * * *");
    assert.ok(a.nextRun && new Date(a.nextRun).getUTCHours() === 9);
    assert.equal(a.environments.length, 1);
    assert.equal(a.environments[0].type, "DEVELOPMENT");
    const again = await create(srv, { task, cron: "0 10 * * *", deduplicationKey: "daily" });
    assert.equal(again.id, a.id, "same dedup key, same schedule");
    assert.equal(again.generator.expression, "0 10 * * *");
    assert.equal(again.externalId, undefined, "an update without externalId clears it");
    for (const k of [a.id, "daily"]) {
      const r = await api(srv, "GET", `/api/v1/schedules/${k}`);
      expectStatus(r, 200);
      assert.equal(r.json.id, a.id);
    }
    const up = await api(srv, "PUT", `/api/v1/schedules/${a.id}`, {
      body: { task, cron: "15 8 * * 1-5", timezone: "Europe/London", externalId: "u2" },
    });
    expectStatus(up, 200);
    assert.equal(up.json.timezone, "Europe/London");
    assert.equal(up.json.externalId, "u2");
    for (let i = 0; i < 4; i++) await create(srv, { task, cron: `${i} 1 * * *`, deduplicationKey: `page-${i}` });
    const p1 = await api(srv, "GET", "/api/v1/schedules?perPage=2");
    expectStatus(p1, 200);
    assert.deepEqual(p1.json.pagination, { currentPage: 1, totalPages: 3, count: 5 });
    assert.equal(p1.json.data[0].deduplicationKey, "page-3", "newest first");
    const p3 = await api(srv, "GET", "/api/v1/schedules?perPage=2&page=3");
    assert.equal(p3.json.data.length, 1);
    assert.equal(p3.json.data[0].id, a.id);
    const prod = await api(srv, "GET", "/api/v1/schedules", { key: srv.keys.prod });
    assert.equal(prod.json.pagination.count, 0, "another environment has no instances");
  });

  test("the API's validation messages", async () => {
    const bad = async (body, msg, status = 422) => {
      const r = await api(srv, "POST", "/api/v1/schedules", { body });
      expectStatus(r, status, JSON.stringify(body));
      if (msg) assert.equal(r.json.error, msg);
      return r.json;
    };
    await bad({ task, cron: "* * * * * *", deduplicationKey: "x" },
      "Invalid cron expression: CRON expressions with seconds are not allowed");
    await bad({ task, cron: "", deduplicationKey: "x" }, "Invalid cron expression: CRON expression is required");
    await bad({ task, cron: "61 * * * *", deduplicationKey: "x" },
      "Invalid cron expression: Constraint error, got value 61 expected range 0-59");
    await bad({ task, cron: "0 0 30 2 *", deduplicationKey: "x" },
      "Invalid cron expression: Invalid explicit day of month definition");
    await bad({ task, cron: "* * * foo *", deduplicationKey: "x" },
      'Invalid cron expression: Validation error, cannot resolve alias "foo"');
    const tz = await bad({ task, cron: "0 9 * * *", timezone: "Mars/Olympus", deduplicationKey: "x" });
    assert.equal(tz.error, `Invalid IANA timezone: 'Mars/Olympus'. View the list of valid timezones at ${srv.url}/timezones`);
    await bad({ task: "nope", cron: "0 9 * * *", deduplicationKey: "x" }, "Task with identifier nope not found in project.");
    await bad({ task: "plain-task", cron: "0 9 * * *", deduplicationKey: "x" },
      "Task with identifier plain-task is not a scheduled task.");
    const b = await bad({ task, cron: "0 9 * * *" }, "Invalid request body", 400);
    assert.deepEqual(b.issues[0].path, ["deduplicationKey"]);
    const r = await api(srv, "GET", "/api/v1/schedules/sched_doesnotexist1234567");
    expectStatus(r, 404);
    assert.deepEqual(r.json, { error: "Schedule not found" });
  });

  test("nextRun in Asia/Kolkata and America/New_York follows the zone's offset", async () => {
    const k = await create(srv, { task, cron: "30 9 * * 1-5", timezone: "Asia/Kolkata", deduplicationKey: "kol" });
    const d = new Date(k.nextRun);
    assert.equal(d.getUTCHours() * 60 + d.getUTCMinutes(), 4 * 60, "09:30 IST is 04:00Z");
    assert.ok(d.getUTCDay() >= 1 && d.getUTCDay() <= 5, "a weekday");
    const ny = await create(srv, { task, cron: "0 9 * * *", timezone: "America/New_York", deduplicationKey: "ny" });
    const h = new Date(ny.nextRun).getUTCHours();
    const month = new Date(ny.nextRun).getUTCMonth();
    const summer = month >= 3 && month <= 9; // April..October are always EDT
    if (summer) assert.equal(h, 13);
    else if (month === 0 || month === 1 || month === 11) assert.equal(h, 14);
    else assert.ok(h === 13 || h === 14);
  });

  test("deactivate hides nextRun, activate brings it back, delete is final", async () => {
    const s = await create(srv, { task, cron: "*/5 * * * *", deduplicationKey: "toggle" });
    const off = await api(srv, "POST", `/api/v1/schedules/${s.id}/deactivate`);
    expectStatus(off, 200);
    assert.equal(off.json.active, false);
    assert.equal(off.json.nextRun, undefined);
    const on = await api(srv, "POST", "/api/v1/schedules/toggle/activate");
    expectStatus(on, 200);
    assert.equal(on.json.active, true);
    assert.ok(on.json.nextRun);
    const del = await api(srv, "DELETE", `/api/v1/schedules/${s.id}`);
    expectStatus(del, 200);
    assert.deepEqual(del.json, { id: s.id });
    expectStatus(await api(srv, "GET", `/api/v1/schedules/${s.id}`), 404);
    expectStatus(await api(srv, "DELETE", `/api/v1/schedules/${s.id}`), 404);
  });

  test("GET /api/v1/timezones needs no key and puts UTC first unless excludeUtc", async () => {
    const r = await api(srv, "GET", "/api/v1/timezones", { key: null });
    expectStatus(r, 200);
    assert.equal(r.json.timezones[0], "UTC");
    assert.ok(r.json.timezones.includes("America/New_York"));
    const sorted = r.json.timezones.slice(1);
    assert.deepEqual(sorted, [...sorted].sort());
    const ex = await api(srv, "GET", "/api/v1/timezones?excludeUtc=true", { key: null });
    assert.notEqual(ex.json.timezones[0], "UTC");
    assert.equal(ex.json.timezones.length, r.json.timezones.length - 1);
  });
});

describe("declarative schedules from the worker manifest", () => {
  let srv;
  before(async () => (srv = await startTriggerd()));
  after(async () => srv && (await srv.stop()));

  test("synced on register, refused by the API, removed when the task goes", async () => {
    const w = new FakeWorker(srv);
    const t = uid("decl-");
    await w.register([
      { id: t, triggerSource: "schedule", schedule: { cron: "0 * * * *", timezone: "Europe/London" } },
      { id: t + "-prod-only", triggerSource: "schedule", schedule: { cron: "0 * * * *", timezone: "UTC", environments: ["PRODUCTION"] } },
    ]);
    const l = await api(srv, "GET", "/api/v1/schedules");
    assert.equal(l.json.data.length, 1, "the PRODUCTION-only schedule is not in dev");
    const s = l.json.data[0];
    assert.equal(s.type, "DECLARATIVE");
    assert.equal(s.task, t);
    assert.equal(s.timezone, "Europe/London");
    assert.equal(s.deduplicationKey, undefined);
    const up = await api(srv, "PUT", `/api/v1/schedules/${s.id}`, { body: { task: t, cron: "5 * * * *" } });
    expectStatus(up, 422);
    assert.deepEqual(up.json, { error: "Cannot update a declarative schedule" });
    await w.register([{ id: t, triggerSource: "schedule", schedule: { cron: "30 * * * *", timezone: "UTC" } }], { tag: "2" });
    const l2 = await api(srv, "GET", "/api/v1/schedules");
    assert.equal(l2.json.data.length, 1);
    assert.equal(l2.json.data[0].id, s.id, "same schedule, updated");
    assert.equal(l2.json.data[0].generator.expression, "30 * * * *");
    await w.register([{ id: t, triggerSource: "schedule" }], { tag: "3" });
    const l3 = await api(srv, "GET", "/api/v1/schedules");
    assert.equal(l3.json.data.length, 0, "no schedule in the manifest: removed");
  });
});

describe("firing", () => {
  let srv, task;
  const key = () => srv.keys.prod; // no dev CLI needed in prod
  before(async () => {
    srv = await startTriggerd({ keepData: false });
    task = uid("fire-");
    await new FakeWorker(srv, { key: srv.keys.prod }).register([{ id: task, triggerSource: "schedule" }]);
  });
  after(async () => srv && (await srv.stop()));

  test("an every-minute schedule fires on the minute with the documented payload; inactive ones do not", { timeout: 150000 }, async () => {
    const s = await create(srv, { task, cron: "* * * * *", deduplicationKey: "every", externalId: "ext-1" }, key());
    const off = await create(srv, { task, cron: "* * * * *", deduplicationKey: "off" }, key());
    expectStatus(await api(srv, "POST", `/api/v1/schedules/${off.id}/deactivate`, { key: key() }), 200);
    const gone = await create(srv, { task, cron: "* * * * *", deduplicationKey: "gone" }, key());
    expectStatus(await api(srv, "DELETE", `/api/v1/schedules/${gone.id}`, { key: key() }), 200);
    const { boundary, wait } = untilMinute(1500);
    await sleep(wait);
    const runs = await runsOf(srv, s.id, key());
    assert.equal(runs.length, 1, "one run for the tick");
    assert.equal(runs[0].createdAt, new Date(boundary).toISOString(), "dated at the nominal tick");
    const run = (await api(srv, "GET", `/api/v3/runs/${runs[0].id}`, { key: key() })).json;
    const p = run.payload;
    assert.equal(p.scheduleId, s.id);
    assert.equal(p.type, "IMPERATIVE");
    assert.equal(p.timestamp, new Date(boundary).toISOString());
    assert.equal(p.externalId, "ext-1");
    assert.equal(p.timezone, "UTC");
    assert.equal(p.upcoming.length, 10);
    assert.equal(p.upcoming[0], new Date(boundary + MIN).toISOString());
    assert.equal(p.lastTimestamp, null, "first fire (superjson's undefined)");
    assert.deepEqual(run.schedule, {
      id: s.id, externalId: "ext-1", deduplicationKey: "every",
      generator: { type: "CRON", expression: "* * * * *", description: s.generator.description },
    });
    assert.equal((await runsOf(srv, off.id, key())).length, 0, "deactivated: no run");
    assert.equal((await runsOf(srv, gone.id, key())).length, 0, "deleted: no run");
    await sleep(MIN);
    const two = await runsOf(srv, s.id, key());
    assert.equal(two.length, 2);
    const second = (await api(srv, "GET", `/api/v3/runs/${two[0].id}`, { key: key() })).json;
    assert.equal(second.payload.lastTimestamp, new Date(boundary).toISOString());
    expectStatus(await api(srv, "DELETE", `/api/v1/schedules/${s.id}`, { key: key() }), 200);
  });

  test("stopped across a tick: one late fire for it after the restart, never two", { timeout: 200000 }, async () => {
    const s = await create(srv, { task, cron: "* * * * *", deduplicationKey: "restart" }, key());
    const { boundary, wait } = untilMinute(-4000, 6000);
    await sleep(wait);
    await srv.kill("SIGTERM");
    await sleep(8000); // the tick at `boundary` passes while triggerd is down
    await srv.start();
    const runs = await waitFor(async () => {
      const r = await runsOf(srv, s.id, key());
      return r.length ? r : null;
    }, { timeout: 5000, what: "the late fire" });
    assert.equal(runs.length, 1);
    const run = (await api(srv, "GET", `/api/v3/runs/${runs[0].id}`, { key: key() })).json;
    assert.equal(run.payload.timestamp, new Date(boundary).toISOString(), "the missed tick, late");
    await srv.restart("SIGTERM");
    await sleep(1000);
    assert.equal((await runsOf(srv, s.id, key())).length, 1, "a second restart does not fire it again");
    await sleep(boundary + MIN + 1500 - Date.now());
    const after = await runsOf(srv, s.id, key());
    assert.equal(after.length, 2, "then the next tick, once");
    expectStatus(await api(srv, "DELETE", `/api/v1/schedules/${s.id}`, { key: key() }), 200);
  });

  test("SIGKILL right at a tick: exactly one run for that tick", { timeout: 200000 }, async () => {
    const ids = [];
    for (let i = 0; i < 50; i++)
      ids.push((await create(srv, { task, cron: "* * * * *", deduplicationKey: `kill-${i}` }, key())).id);
    const { boundary, wait } = untilMinute(5);
    await sleep(wait);
    await srv.kill("SIGKILL");
    await srv.start();
    await sleep(1500);
    for (const id of ids) {
      const runs = await runsOf(srv, id, key());
      const forTick = [];
      for (const r of runs) {
        const full = (await api(srv, "GET", `/api/v3/runs/${r.id}`, { key: key() })).json;
        if (full.payload.timestamp === new Date(boundary).toISOString()) forTick.push(r.id);
      }
      assert.equal(forTick.length, 1, `${id}: one run for the tick`);
    }
    for (const id of ids) await api(srv, "DELETE", `/api/v1/schedules/${id}`, { key: key() });
  });
});

function procStat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  const rss = Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096;
  return { ticks, rss };
}

describe("10,000 schedules", () => {
  let srv, task;
  before(async () => {
    srv = await startTriggerd({ args: ["--rate-limit", "0"] });
    task = uid("many-");
    await new FakeWorker(srv, { key: srv.keys.prod }).register([{ id: task, triggerSource: "schedule" }]);
  });
  after(async () => srv && (await srv.stop()));

  test("cost nothing while idle, and all due in one minute fire in that minute", { timeout: 400000 }, async () => {
    const N = 10000;
    // every one due at the same minute: an hourly schedule at the minute after the next
    const target = new Date(Date.now() + 2 * MIN);
    target.setUTCSeconds(0, 0);
    const cron = `${target.getUTCMinutes()} * * * *`;
    const t0 = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < N) {
        const i = next++;
        await create(srv, { task, cron, deduplicationKey: `many-${i}` }, srv.keys.prod);
      }
    }));
    const createdIn = Date.now() - t0;
    if (target.getTime() - Date.now() < 15000) target.setTime(target.getTime() + 3600000); // missed: skip
    const pid = srv.proc.pid;
    const a = procStat(pid);
    await sleep(5000);
    const b = procStat(pid);
    const idleCpu = (b.ticks - a.ticks) / 100 / 5; // CPU seconds per second
    console.log(`# 10k schedules: created in ${createdIn} ms; idle CPU ${(idleCpu * 100).toFixed(2)}%, RSS ${(b.rss / 1048576).toFixed(1)} MiB`);
    assert.ok(idleCpu < 0.02, `idle CPU ${idleCpu}`);
    const wait = target.getTime() - Date.now();
    if (wait > 600000) return; // the hour rolled over during creation: nothing to check this run
    await sleep(Math.max(0, wait) + 50);
    // count the runs: within the minute
    const counted = await waitFor(async () => {
      const r = await api(srv, "GET", `/api/v1/runs?page[size]=1&filter[taskIdentifier]=${task}`, { key: srv.keys.prod });
      return r.status === 200 && r.json.data.length ? r : null;
    }, { timeout: 10000, what: "first run" });
    assert.ok(counted);
    let total = 0, after, latest = 0, earliest = Infinity;
    for (;;) {
      const q = `/api/v1/runs?page[size]=100&filter[taskIdentifier]=${task}` + (after ? `&page[after]=${after}` : "");
      await waitFor(async () => true);
      const r = await api(srv, "GET", q, { key: srv.keys.prod });
      total += r.json.data.length;
      for (const x of r.json.data) {
        const u = Date.parse(x.updatedAt);
        latest = Math.max(latest, u);
        earliest = Math.min(earliest, u);
      }
      after = r.json.pagination.next;
      if (!after) break;
    }
    console.log(`# 10k due at ${target.toISOString()}: ${total} runs, last written ${latest - target.getTime()} ms after the tick`);
    assert.equal(total, N, "every schedule fired once");
    assert.ok(latest - target.getTime() < MIN, "all within the minute");
  });
});
