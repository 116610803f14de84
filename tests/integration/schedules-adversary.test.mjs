// tests/integration/schedules-adversary.test.mjs - the schedules API against
// what the real v4.5 webapp answers, case by case (its routes
// api.v1.schedules*.ts, UpsertTaskScheduleService, CheckScheduleService,
// ScheduleListPresenter, syncDeclarativeSchedules, the presence TTL of the
// schedule engine's dev check). Each test names the real code path whose
// answer it expects. The firing test waits for one real minute boundary.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, api, expectStatus, sleep, uid } from "./helpers.mjs";
import { FakeWorker } from "./worker.mjs";

const SOMETHING = { error: "Something went wrong, please try again." };

describe("schedules: what the real API answers to odd input", () => {
  let srv, task;
  before(async () => {
    srv = await startTriggerd();
    task = uid("adv-");
    await new FakeWorker(srv).register([{ id: task, triggerSource: "schedule" }, { id: "plain" }]);
  });
  after(async () => srv && (await srv.stop()));

  const post = (body, key) => api(srv, "POST", "/api/v1/schedules", { body, key });

  test("cron-parser accepts it but cronstrue throws: 500, and nothing is stored", async () => {
    // CronPattern passes (cron-parser reads 1-6 fields, splits on any white
    // space); cronstrue.toString then throws outside the service's
    // validation, so the route's catch-all answers 500.
    // cronstrue's RangeValidator refuses a day of week past 6 after its
    // normalize ("07" stays 07; "99999999999L" is 99999999999).
    for (const cron of ["* * * *", "*", "* * *", "*\t* * * *", "0\t9\t*\t*\t*", "0 9 * * 07", "0 0 * * 99999999999L"]) {
      const r = await post({ task, cron, deduplicationKey: `short-${cron.length}-${cron.charCodeAt(1)}` });
      expectStatus(r, 500, JSON.stringify(cron));
      assert.deepEqual(r.json, SOMETHING);
    }
    const l = await api(srv, "GET", "/api/v1/schedules?perPage=100");
    assert.equal(l.json.data.filter((s) => s.deduplicationKey?.startsWith("short-")).length, 0);
  });

  test("an expression that never matches: 500 (the engine's next() throws), not a dead schedule", async () => {
    // "L" alone in day of week parses and cronstrue describes it, but
    // cron-parser's next() throws "Invalid last weekday of the month
    // expression"; registerNextTaskScheduleInstance is unguarded.
    for (const cron of ["0 0 * * L", "0 0 * * 1,L", "0 0 31 4,6 *"]) {
      const r = await post({ task, cron, deduplicationKey: "never" });
      expectStatus(r, 500, cron);
      assert.deepEqual(r.json, SOMETHING);
    }
    expectStatus(await api(srv, "GET", "/api/v1/schedules/never"), 404);
  });

  test("white space around the expression: described as cronstrue does after trim()", async () => {
    const r = await post({ task, cron: "\n30 9 * * 1-5", deduplicationKey: "ws" });
    expectStatus(r, 200);
    assert.equal(r.json.generator.description, "At 09:30 AM, Monday through Friday");
    assert.equal(r.json.generator.expression, "\n30 9 * * 1-5");
    // a leading or doubled space is a sixth " "-separated part to CronPattern
    for (const cron of [" * * * * *", "*  * * * *", "* * * * * "]) {
      const b = await post({ task, cron, deduplicationKey: "ws2" });
      expectStatus(b, 422, JSON.stringify(cron));
      assert.equal(b.json.error, "Invalid cron expression: CRON expressions with seconds are not allowed");
    }
  });

  test("long expressions are read whole: lists, their descriptions, many L atoms", async () => {
    // cron-parser and cronstrue have no length limit; a value past the
    // range at the end of a long list is still seen
    const r1 = await post({ task, cron: "1,".repeat(700) + "61 * * * *", deduplicationKey: "long1" });
    expectStatus(r1, 422);
    assert.equal(r1.json.error, "Invalid cron expression: Constraint error, got value 61 expected range 0-59");
    // an empty item is refused before any item is read (parseSequence)
    const r2 = await post({ task, cron: "0 59, * * *", deduplicationKey: "long2" });
    expectStatus(r2, 422);
    assert.equal(r2.json.error, "Invalid cron expression: Invalid list value format");
    const r3 = await post({ task, cron: "* * * * " + "mon,".repeat(300) + "fri", deduplicationKey: "long3" });
    expectStatus(r3, 200);
    assert.equal(r3.json.generator.description, "Every minute, only on " + "Monday, ".repeat(300) + "and Friday");
    // twenty "1L" then "2L": the last Tuesday still counts
    const r4 = await post({ task, cron: "0 0 * * " + "1L,".repeat(20) + "2L", deduplicationKey: "long4" });
    expectStatus(r4, 200);
    const next = new Date(r4.json.nextRun);
    assert.ok(next.getUTCDay() === 1 || next.getUTCDay() === 2, `a Monday or Tuesday: ${r4.json.nextRun}`);
    const week = new Date(next.getTime() + 7 * 86400000);
    assert.notEqual(week.getUTCMonth(), next.getUTCMonth(), "the last one of its month");
  });

  test("list: bad page / perPage answer zod's issues, like the route", async () => {
    const cases = [
      ["page=0", [{ code: "too_small", minimum: 0, type: "number", inclusive: false, exact: false, message: "Number must be greater than 0", path: ["page"] }]],
      ["page=", [{ code: "too_small", minimum: 0, type: "number", inclusive: false, exact: false, message: "Number must be greater than 0", path: ["page"] }]],
      ["page=abc", [{ code: "invalid_type", expected: "number", received: "nan", path: ["page"], message: "Expected number, received nan" }]],
      ["page=1.5", [{ code: "invalid_type", expected: "integer", received: "float", message: "Expected integer, received float", path: ["page"] }]],
      ["page=-1.5", [
        { code: "invalid_type", expected: "integer", received: "float", message: "Expected integer, received float", path: ["page"] },
        { code: "too_small", minimum: 0, type: "number", inclusive: false, exact: false, message: "Number must be greater than 0", path: ["page"] },
      ]],
      ["page=Infinity", [{ code: "invalid_type", expected: "integer", received: "float", message: "Expected integer, received float", path: ["page"] }]],
      ["perPage=0&page=x", [
        { code: "invalid_type", expected: "number", received: "nan", path: ["page"], message: "Expected number, received nan" },
        { code: "too_small", minimum: 0, type: "number", inclusive: false, exact: false, message: "Number must be greater than 0", path: ["perPage"] },
      ]],
      ["page=inf", [{ code: "invalid_type", expected: "number", received: "nan", path: ["page"], message: "Expected number, received nan" }]],
    ];
    for (const [q, issues] of cases) {
      const r = await api(srv, "GET", `/api/v1/schedules?${q}`);
      expectStatus(r, 400, q);
      assert.deepEqual(r.json, { error: "Invalid request parameters", issues }, q);
    }
    // what Number() reads, the route reads
    for (const [q, page] of [["page=%205%20", 5], ["page=0b11", 3], ["page=0o7", 7], ["page=1e1", 10], ["page=0x10", 16]]) {
      const r = await api(srv, "GET", `/api/v1/schedules?${q}`);
      expectStatus(r, 200, q);
      assert.equal(r.json.pagination.currentPage, page, q);
    }
  });

  test("list: a page far past the end is empty and does not overflow the offset", async () => {
    for (const page of ["999", "9000000000000000000", "1e300"]) {
      const r = await api(srv, "GET", `/api/v1/schedules?page=${page}&perPage=100`);
      expectStatus(r, 200, page);
      assert.deepEqual(r.json.data, []);
      assert.equal(r.json.pagination.currentPage, Number(page));
      assert.ok(r.json.pagination.count > 0);
    }
  });

  test("the task check finds a task an older worker had (the newest backgroundWorkerTask row)", async () => {
    const w = new FakeWorker(srv);
    const t = uid("dropped-");
    await w.register([{ id: t, triggerSource: "schedule" }]);
    await w.register([{ id: "other", triggerSource: "schedule" }], { tag: "2" });
    const r = await post({ task: t, cron: "0 0 * * *", deduplicationKey: "dropped" });
    expectStatus(r, 200);
    assert.equal(r.json.task, t);
  });
});

describe("schedules: list in an environment without a worker", () => {
  let srv, task;
  before(async () => {
    srv = await startTriggerd();
    task = uid("nowk-");
    await new FakeWorker(srv).register([{ id: task, triggerSource: "schedule" }]);
  });
  after(async () => srv && (await srv.stop()));

  test("lists nothing, on page 1 of 1 (ScheduleListPresenter without a current worker)", async () => {
    // the task exists in the project (dev), so prod may create a schedule
    const c = await api(srv, "POST", "/api/v1/schedules", {
      key: srv.keys.prod, body: { task, cron: "0 0 * * *", deduplicationKey: "prod-early" },
    });
    expectStatus(c, 200);
    const l = await api(srv, "GET", "/api/v1/schedules?page=3", { key: srv.keys.prod });
    expectStatus(l, 200);
    assert.deepEqual(l.json, { data: [], pagination: { currentPage: 1, totalPages: 1, count: 0 } });
    // retrieve still finds it (the presenter is not scoped by a worker)
    expectStatus(await api(srv, "GET", "/api/v1/schedules/prod-early", { key: srv.keys.prod }), 200);
    // and once prod has a worker, it is listed
    await new FakeWorker(srv, { key: srv.keys.prod }).register([{ id: task, triggerSource: "schedule" }]);
    const l2 = await api(srv, "GET", "/api/v1/schedules", { key: srv.keys.prod });
    assert.equal(l2.json.pagination.count, 1);
  });
});

describe("declarative schedules the platform refuses", () => {
  let srv;
  before(async () => (srv = await startTriggerd()));
  after(async () => srv && (await srv.stop()));

  test("worker registration fails with 400 and CheckScheduleService's message", async () => {
    const w = new FakeWorker(srv);
    const reg = async (schedule, tag) => {
      const r = await w.call("POST", `/api/v1/projects/${srv.projectRef}/background-workers`, {
        headers: { "x-trigger-source": "cli" },
        body: {
          localOnly: true,
          metadata: {
            packageVersion: "4.5.0", cliPackageVersion: "4.5.0", contentHash: uid("h"), runtime: "node",
            runtimeVersion: "20.0.0", queues: [],
            tasks: [{ id: "d-" + tag, triggerSource: "schedule", schedule, filePath: "f.ts", entryPoint: "f.mjs" }],
          },
        },
      });
      return r;
    };
    const bad = await reg({ cron: "61 * * * *", timezone: "UTC" }, "a");
    expectStatus(bad, 400);
    assert.deepEqual(bad.json, { error: "Invalid cron expression: Constraint error, got value 61 expected range 0-59" });
    const tz = await reg({ cron: "0 * * * *", timezone: "Mars/Base" }, "b");
    expectStatus(tz, 400);
    assert.deepEqual(tz.json, {
      error: `Invalid IANA timezone: 'Mars/Base'. View the list of valid timezones at ${srv.url}/timezones`,
    });
    const short = await reg({ cron: "* * * *", timezone: "UTC" }, "c");
    expectStatus(short, 400);
    assert.deepEqual(short.json, { error: "Error syncing declarative schedules" });
  });
});

describe("dev schedules follow the CLI's presence", () => {
  let srv, task;
  const MIN = 60000;
  before(async () => {
    srv = await startTriggerd();
    task = uid("pres-");
  });
  after(async () => srv && (await srv.stop()));

  test("a tick 8 s after the CLI's last sign of life is skipped (presence TTL 5 s); presence alone keeps it", { timeout: 150000 }, async () => {
    const w = new FakeWorker(srv);
    await w.register([{ id: task, triggerSource: "schedule" }]);
    const gone = await api(srv, "POST", "/api/v1/schedules", { body: { task, cron: "* * * * *", deduplicationKey: "gone" } });
    expectStatus(gone, 200);
    // wait until 8 s before a minute boundary, with the CLI silent from then on
    const now = Date.now();
    let b = now - (now % MIN) + MIN;
    if (b - now < 20000) b += MIN;
    await sleep(b - 8000 - now);
    // the CLI's last dequeue: 8 s before the tick
    expectStatus(await w.call("GET", "/engine/v1/dev/presence", { headers: { accept: "text/event-stream" } }), 200);
    await sleep(b + 2000 - Date.now());
    const runs = await api(srv, "GET", `/api/v1/runs?filter[schedule]=${gone.json.id}`);
    expectStatus(runs, 200);
    assert.equal(runs.json.data.length, 0, "the CLI went away 8 s before the tick: no run");
    // a CLI that only keeps its presence connection (at its run limit, no
    // dequeues) is connected: the next tick fires
    const ping = setInterval(() => w.call("GET", "/engine/v1/dev/presence", { headers: { accept: "text/event-stream" } }), 3000);
    try {
      await sleep(b + MIN + 2000 - Date.now());
    } finally {
      clearInterval(ping);
    }
    const runs2 = await api(srv, "GET", `/api/v1/runs?filter[schedule]=${gone.json.id}`);
    assert.equal(runs2.json.data.length, 1, "presence pings alone: the tick fires");
  });
});

describe("schedules: known differences not fixed yet", () => {
  let srv, task;
  before(async () => {
    srv = await startTriggerd();
    task = uid("todo-");
    await new FakeWorker(srv).register([{ id: task, triggerSource: "schedule" }]);
  });
  after(async () => srv && (await srv.stop()));

  test("timezone \"\" is stored as \"\" (CheckSchedule skips a falsy zone; the service keeps `?? \"UTC\"`)", {
    todo: "triggerd stores UTC; storing \"\" needs the cron engine to read \"\" as the server's (UTC) zone everywhere",
  }, async () => {
    const r = await api(srv, "POST", "/api/v1/schedules", { body: { task, cron: "0 0 * * *", deduplicationKey: "tz-empty", timezone: "" } });
    expectStatus(r, 200);
    assert.equal(r.json.timezone, "");
  });

  test("environments carry shortcode/userName (create, update) and slug (list) as the real objects", {
    todo: "triggerd has no environment shortcodes or org members; the SDK's ScheduleObject strips these keys",
  }, async () => {
    const r = await api(srv, "POST", "/api/v1/schedules", { body: { task, cron: "0 0 * * *", deduplicationKey: "envs" } });
    expectStatus(r, 200);
    assert.ok("shortcode" in r.json.environments[0]);
    const l = await api(srv, "GET", "/api/v1/schedules");
    assert.ok("slug" in l.json.data[0].environments[0]);
  });

  test("Unicode white space around or between fields is white space (JS trim() and /\\s+/)", {
    todo: "cron.c and crondesc.c treat only ASCII white space as white space",
  }, async () => {
    const r = await api(srv, "POST", "/api/v1/schedules", { body: { task, cron: "\u00a00 0 * * *", deduplicationKey: "nbsp" } });
    expectStatus(r, 200);
    assert.equal(r.json.generator.description, "At 12:00 AM");
  });
});
