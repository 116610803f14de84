// Compat: a declarative schedule through the real `trigger.dev dev` CLI. The
// test's own copy of the fixture gets a `schedules.task` with an every-minute
// cron (cli.mjs extraFiles); the CLI registers it, triggerd syncs it as a
// DECLARATIVE schedule (listed, not updatable), and it fires on the minute
// while the CLI is connected, the run executing in the CLI with the
// documented payload. Waits for one minute boundary.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, rejectsApi, sleep, waitFor } from "../helpers.mjs";
import { schedules, runs, UnprocessableEntityError } from "../sdk.mjs";
import { startDevSession, FINAL } from "./cli.mjs";

const SCHEDULED = `import { schedules } from "@trigger.dev/sdk";

export const everyMinute = schedules.task({
  id: "every-minute-decl",
  cron: "* * * * *",
  run: async (payload) => ({
    scheduleId: payload.scheduleId,
    type: payload.type,
    timestamp: new Date(payload.timestamp).toISOString(),
    timestampIsDate: payload.timestamp instanceof Date,
    upcoming: payload.upcoming.length,
    timezone: payload.timezone,
  }),
});
`;

let srv, cli;
before(async () => {
  srv = await startServer();
  cli = await startDevSession(srv, { extraFiles: { "src/trigger/scheduled.ts": SCHEDULED } });
});
after(async () => {
  await cli?.stop();
  await srv?.stop();
});

test("the CLI's schedules.task becomes a DECLARATIVE schedule that fires each minute", { timeout: 180_000 }, async () => {
  let s;
  await waitFor(async () => {
    for await (const x of schedules.list()) if (x.task === "every-minute-decl") s = x;
    return s;
  }, { timeout: 20_000, what: "the declarative schedule" });
  assert.equal(s.type, "DECLARATIVE");
  assert.equal(s.timezone, "UTC");
  assert.equal(s.generator.description, "Every minute");
  assert.equal(s.environments[0].type, "DEVELOPMENT");
  await rejectsApi(() => schedules.update(s.id, { task: s.task, cron: "0 * * * *" }), UnprocessableEntityError, 422,
    "Cannot update a declarative schedule");
  const now = Date.now();
  const tick = now - (now % 60_000) + 60_000;
  await sleep(tick - Date.now() + 500);
  const [first] = await waitFor(async () => {
    const page = await runs.list({ schedule: s.id });
    return page.data.length ? page.data : null;
  }, { timeout: 20_000, what: `a run of ${s.id}` });
  const done = await waitFor(async () => {
    const r = await runs.retrieve(first.id);
    return FINAL.has(r.status) ? r : null;
  }, { timeout: 60_000, what: `${first.id} to finish` }).catch((e) => {
    throw new Error(`${e.message}\n${cli.tail()}`);
  });
  assert.equal(done.status, "COMPLETED", cli.tail());
  assert.equal(done.output.type, "DECLARATIVE");
  assert.equal(done.output.scheduleId, s.id);
  assert.equal(done.output.timestamp, new Date(tick).toISOString());
  assert.equal(done.output.upcoming, 10);
  assert.equal(done.output.timezone, "UTC");
  assert.equal(done.output.timestampIsDate, true, "superjson: the task gets Dates");
  assert.equal(done.schedule?.id, s.id);
});
