// Compat: schedules (spec/api.md 6.5) through the SDK's schedules.* API:
// timezones without a key, create with dedup, list pages (and for-await),
// retrieve by id or dedup key, update, activate/deactivate, del; nextRun in
// Asia/Kolkata and America/New_York; the 422s the SDK maps; a declarative
// schedule (registered the way the CLI does) listed and not updatable; and
// an every-minute schedule firing with the whole payload, found with
// runs.list({schedule}) and shown by runs.retrieve (waits for a minute).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startServer, uid, rejectsApi, sleep, waitFor, FAST_RETRY } from "./helpers.mjs";
import { schedules, runs, configure, UnprocessableEntityError, NotFoundError } from "./sdk.mjs";

let srv, task;

/** POST the manifest of a background worker as `trigger.dev dev` does. */
async function registerWorker(key, tasks, tag = "") {
  const full = tasks.map((t) => ({ filePath: "src/trigger/s.ts", exportName: t.id, ...t }));
  const r = await fetch(`${srv.url}/api/v1/projects/${srv.projectRef}/background-workers`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({
      localOnly: true,
      metadata: {
        packageVersion: "4.5.0",
        contentHash: createHash("md5").update(JSON.stringify(full) + tag).digest("hex"),
        tasks: full,
        queues: [],
      },
      engine: "V2",
    }),
  });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  srv = await startServer();
  task = uid("sched-");
  await registerWorker(srv.keys.dev, [{ id: task, triggerSource: "schedule" }, { id: "plain" }]);
});
after(async () => {
  await srv?.stop();
});

test("schedules.timezones needs no key: UTC first, excludeUtc drops it", async () => {
  const { timezones } = await schedules.timezones();
  assert.equal(timezones[0], "UTC");
  assert.ok(timezones.includes("Europe/London"));
  const ex = await schedules.timezones({ excludeUtc: true });
  assert.ok(!ex.timezones.includes("UTC"));
  assert.equal(ex.timezones.length, timezones.length - 1);
});

test("create (deduplicated), retrieve, update, list, deactivate/activate, del", async () => {
  const s = await schedules.create({ task, cron: "0 9 * * *", deduplicationKey: "daily", externalId: "user-1" });
  assert.match(s.id, /^sched_/);
  assert.equal(s.type, "IMPERATIVE");
  assert.equal(s.active, true);
  assert.equal(s.timezone, "UTC");
  assert.equal(s.externalId, "user-1");
  assert.equal(s.deduplicationKey, "daily");
  assert.deepEqual(s.generator, { type: "CRON", expression: "0 9 * * *", description: "At 09:00 AM" });
  assert.ok(s.nextRun instanceof Date, "the SDK coerces nextRun");
  assert.equal(s.nextRun.getUTCHours(), 9);
  assert.equal(s.environments[0].type, "DEVELOPMENT");
  const again = await schedules.create({ task, cron: "30 9 * * 1-5", deduplicationKey: "daily" });
  assert.equal(again.id, s.id);
  assert.equal(again.generator.description, "At 09:30 AM, Monday through Friday");
  assert.equal((await schedules.retrieve(s.id)).id, s.id);
  assert.equal((await schedules.retrieve("daily")).id, s.id, "by dedup key");
  const u = await schedules.update(s.id, { task, cron: "*/15 * * * *", timezone: "Europe/London", externalId: "user-2" });
  assert.equal(u.generator.description, "Every 15 minutes");
  assert.equal(u.timezone, "Europe/London");
  assert.equal(u.externalId, "user-2");
  for (let i = 0; i < 3; i++) await schedules.create({ task, cron: `${i} 3 * * *`, deduplicationKey: uid("p-") });
  const page = await schedules.list({ perPage: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.pagination.count, 4);
  assert.equal(page.pagination.totalPages, 2);
  const all = [];
  for await (const x of schedules.list({ perPage: 2 })) all.push(x.id);
  assert.equal(all.length, 4);
  assert.ok(all.includes(s.id));
  const off = await schedules.deactivate(s.id);
  assert.equal(off.active, false);
  assert.equal(off.nextRun, undefined, "an inactive schedule has no next run");
  const on = await schedules.activate("daily");
  assert.equal(on.active, true);
  assert.ok(on.nextRun instanceof Date);
  assert.deepEqual(await schedules.del(s.id), { id: s.id });
  await rejectsApi(() => schedules.retrieve(s.id), NotFoundError, 404, "Schedule not found");
});

test("nextRun: weekdays 09:30 in Asia/Kolkata is 04:00Z; 09:00 America/New_York is 14:00Z or 13:00Z", async () => {
  const k = await schedules.create({ task, cron: "30 9 * * 1-5", timezone: "Asia/Kolkata", deduplicationKey: uid("kol-") });
  assert.equal(k.nextRun.toISOString().slice(11), "04:00:00.000Z");
  assert.ok(k.nextRun.getUTCDay() >= 1 && k.nextRun.getUTCDay() <= 5);
  const ny = await schedules.create({ task, cron: "0 9 * * *", timezone: "America/New_York", deduplicationKey: uid("ny-") });
  const m = ny.nextRun.getUTCMonth();
  const h = ny.nextRun.getUTCHours();
  if (m >= 3 && m <= 9) assert.equal(h, 13, "EDT");
  else if (m === 0 || m === 1 || m === 11) assert.equal(h, 14, "EST");
  else assert.ok(h === 13 || h === 14);
});

test("invalid expressions, zones and tasks are 422 with the platform's messages", async () => {
  const bad = (o, msg) => rejectsApi(() => schedules.create({ task, deduplicationKey: uid("bad-"), ...o }),
    UnprocessableEntityError, 422, msg);
  await bad({ cron: "* * * * * *" }, "Invalid cron expression: CRON expressions with seconds are not allowed");
  await bad({ cron: "0 25 * * *" }, "Invalid cron expression: Constraint error, got value 25 expected range 0-23");
  await bad({ cron: "x 9 * * *" }, "Invalid cron expression: Invalid characters, got value: x");
  // one field is the day of week, whose names cron-parser resolves first
  await bad({ cron: "banana" }, 'Invalid cron expression: Validation error, cannot resolve alias "ban"');
  await bad({ cron: "0 9 * * *", timezone: "Nowhere/Land" },
    `Invalid IANA timezone: 'Nowhere/Land'. View the list of valid timezones at ${srv.url}/timezones`);
  await bad({ cron: "0 9 * * *", task: "plain" }, "Task with identifier plain is not a scheduled task.");
  await bad({ cron: "0 9 * * *", task: "missing" }, "Task with identifier missing not found in project.");
});

test("a declarative schedule from the worker manifest is DECLARATIVE and cannot be updated", async () => {
  const dt = uid("decl-");
  await registerWorker(srv.keys.dev, [
    { id: task, triggerSource: "schedule" },
    { id: "plain" },
    { id: dt, triggerSource: "schedule", schedule: { cron: "* * * * *", timezone: "UTC" } },
  ], "decl");
  let d;
  for await (const x of schedules.list()) if (x.task === dt) d = x;
  assert.ok(d, "listed");
  assert.equal(d.type, "DECLARATIVE");
  assert.equal(d.generator.description, "Every minute");
  await rejectsApi(() => schedules.update(d.id, { task: dt, cron: "0 * * * *" }), UnprocessableEntityError, 422,
    "Cannot update a declarative schedule");
});

test("an imperative every-minute schedule fires on the minute with the whole payload", { timeout: 150000 }, async () => {
  // dev schedules fire only while a dev CLI polls; production needs none
  configure({ baseURL: srv.url, accessToken: srv.keys.prod, requestOptions: { retry: FAST_RETRY } });
  try {
    await registerWorker(srv.keys.prod, [{ id: task, triggerSource: "schedule" }]);
    const s = await schedules.create({ task, cron: "* * * * *", deduplicationKey: "every-minute", externalId: "tenant-7" });
    const now = Date.now();
    const tick = now - (now % 60000) + 60000;
    await sleep(tick - Date.now() + 1000);
    const found = await waitFor(async () => {
      const page = await runs.list({ schedule: s.id });
      return page.data.length ? page.data : null;
    }, { timeout: 10000, what: "the run of the tick" });
    assert.equal(found.length, 1);
    const run = await runs.retrieve(found[0].id);
    assert.equal(run.taskIdentifier, task);
    assert.equal(run.createdAt.getTime(), tick, "dated at the tick");
    // the platform serializes the payload with superjson (Dates in the task)
    const iso = (v) => (v instanceof Date ? v.toISOString() : v);
    const p = run.payload;
    assert.equal(p.scheduleId, s.id);
    assert.equal(p.type, "IMPERATIVE");
    assert.equal(iso(p.timestamp), new Date(tick).toISOString());
    assert.equal(p.lastTimestamp ?? null, null, "first fire");
    assert.equal(p.externalId, "tenant-7");
    assert.equal(p.timezone, "UTC");
    assert.deepEqual(p.upcoming.map(iso), Array.from({ length: 10 }, (_, i) => new Date(tick + (i + 1) * 60000).toISOString()));
    assert.deepEqual(run.schedule, {
      id: s.id, externalId: "tenant-7", deduplicationKey: "every-minute",
      generator: { type: "CRON", expression: "* * * * *", description: "Every minute" },
    });
    await schedules.deactivate(s.id);
    await sleep(61000);
    assert.equal((await runs.list({ schedule: s.id })).data.length, 1, "deactivated: no more runs");
    await schedules.del(s.id);
  } finally {
    configure({ baseURL: srv.url, accessToken: srv.keys.dev, requestOptions: { retry: FAST_RETRY } });
  }
});
