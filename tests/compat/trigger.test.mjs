// tasks.trigger with each option, checked through what runs.retrieve (and,
// for options the retrieve schema does not carry, runs.list filters) returns.
// spec/api.md 6.1 (trigger), 6.4 [12] (retrieve), 4 (statuses); docs
// triggering.mdx, tags.mdx, runs/metadata.mdx, runs/priority.mdx, machines.mdx.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, runs, BadRequestError, UnprocessableEntityError } from "./sdk.mjs";
import { near, startServer, apiClient, uid, rejectsApi, listIds, sorted, describeSdk } from "./helpers.mjs";

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
});

const RUN_ID = /^run_[0-9a-z]{20,}$/;

test(`[${describeSdk()}] trigger without options: a QUEUED run with the documented defaults`, async () => {
  const task = uid("compat-plain-");
  const payload = { hello: "world", n: 1, nested: { list: [1, "two", null] } };
  const t0 = Date.now();
  const handle = await tasks.trigger(task, payload);
  assert.match(handle.id, RUN_ID);
  assert.equal(handle.isCached, false);
  assert.equal(typeof handle.publicAccessToken, "string");

  const run = await runs.retrieve(handle.id);
  assert.equal(run.id, handle.id);
  assert.equal(run.taskIdentifier, task);
  assert.equal(run.status, "QUEUED");
  assert.deepEqual(run.payload, payload);
  assert.equal(run.payloadPresignedUrl, undefined);
  assert.deepEqual(
    {
      isQueued: run.isQueued,
      isExecuting: run.isExecuting,
      isWaiting: run.isWaiting,
      isCompleted: run.isCompleted,
      isSuccess: run.isSuccess,
      isFailed: run.isFailed,
      isCancelled: run.isCancelled,
      isTest: run.isTest,
    },
    {
      isQueued: true,
      isExecuting: false,
      isWaiting: false,
      isCompleted: false,
      isSuccess: false,
      isFailed: false,
      isCancelled: false,
      isTest: false,
    }
  );
  assert.deepEqual(run.tags, []);
  assert.equal(run.depth, 0);
  assert.equal(run.triggerFunction, "trigger");
  assert.equal(run.attemptCount, 0);
  assert.equal(run.costInCents, 0);
  assert.equal(run.baseCostInCents, 0);
  assert.equal(run.durationMs, 0);
  assert.equal(run.idempotencyKey, undefined);
  assert.equal(run.batchId, undefined);
  assert.equal(run.startedAt, undefined);
  assert.equal(run.finishedAt, undefined);
  assert.equal(run.delayedUntil, undefined);
  assert.equal(run.output, undefined);
  assert.equal(run.error, undefined);
  assert.equal(run.metadata, undefined);
  near(run.createdAt, t0, 60_000, "createdAt");
  assert.ok(run.updatedAt instanceof Date && run.updatedAt >= run.createdAt);
  assert.equal(run.relatedRuns.parent, undefined);
  assert.equal(run.relatedRuns.root, undefined);
  assert.deepEqual(run.relatedRuns.children ?? [], []);
});

test("trigger in the dev environment without ttl gets the dev default ttl of 10m", async () => {
  // triggerTask.server.ts: ttl = options.ttl ?? task ttl ?? (DEVELOPMENT ? "10m" : undefined)
  const h = await tasks.trigger(uid("compat-ttl-default-"), {});
  const run = await runs.retrieve(h.id);
  assert.equal(run.ttl, "10m");
});

test("payload serialization: strings stay text, superjson Dates come back as ISO strings", async () => {
  const task = uid("compat-payload-");
  const s = await tasks.trigger(task, "just a string");
  assert.equal((await runs.retrieve(s.id)).payload, "just a string");

  // The SDK sends application/super+json; retrieve returns its `json` part.
  const when = new Date("2025-01-02T03:04:05.678Z");
  const d = await tasks.trigger(task, { when, ok: true });
  assert.deepEqual((await runs.retrieve(d.id)).payload, { when: when.toISOString(), ok: true });

  const u = await tasks.trigger(task, undefined);
  assert.equal((await runs.retrieve(u.id)).payload, undefined);
});

test("queue: the run lands on the named custom queue (runs.list filter[queue])", async () => {
  const task = uid("compat-queue-");
  const queue = uid("compat-q-");
  const tag = uid("qtag-");
  const custom = await tasks.trigger(task, {}, { queue, tags: [tag] });
  const dflt = await tasks.trigger(task, {}, { tags: [tag] });
  assert.equal((await runs.retrieve(custom.id)).status, "QUEUED");

  assert.deepEqual(await listIds(runs, { tag, queue: { type: "custom", name: queue } }), [custom.id]);
  // A run without a queue option is on the task's own queue, "task/<id>".
  assert.deepEqual(await listIds(runs, { tag, queue: { type: "task", name: task } }), [dflt.id]);
});

test("concurrencyKey: accepted (string) and the run is QUEUED", async () => {
  const h = await tasks.trigger(uid("compat-ck-"), { a: 1 }, { concurrencyKey: "user-42" });
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "QUEUED");
  assert.equal(run.isQueued, true);
});

test("delay as a duration: DELAYED with delayedUntil = now + delay", async () => {
  const task = uid("compat-delay-");
  const t0 = Date.now();
  const h = await tasks.trigger(task, {}, { delay: "1h" });
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "DELAYED");
  assert.equal(run.isQueued, true); // DELAYED counts as queued (spec/api.md 4)
  assert.equal(run.isCompleted, false);
  near(run.delayedUntil, t0 + 3600_000, 60_000, "delayedUntil");

  const h2 = await tasks.trigger(task, {}, { delay: "1h30m" });
  near((await runs.retrieve(h2.id)).delayedUntil, t0 + 5400_000, 60_000, "delayedUntil (1h30m)");
});

test("delay as a Date: delayedUntil is that instant", async () => {
  const at = new Date(Date.now() + 2 * 86400_000);
  at.setMilliseconds(0);
  const h = await tasks.trigger(uid("compat-delay-date-"), {}, { delay: at });
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "DELAYED");
  near(run.delayedUntil, at.getTime(), 1000, "delayedUntil");
});

test("an unparsable delay, or a date in the past, is ignored: the run is QUEUED", async () => {
  // The real trigger service (triggerTask.server.ts + utils/delays.ts
  // parseDelay) turns an unparsable delay into `undefined` without throwing,
  // and a date that is not in the future likewise; the run is created
  // undelayed. Its "Invalid delay" 422 branch is unreachable in practice.
  const task = uid("compat-delay-bad-");
  const h = await tasks.trigger(task, {}, { delay: "whenever" });
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "QUEUED");
  assert.equal(run.delayedUntil, undefined);

  const past = await tasks.trigger(task, {}, { delay: new Date(Date.now() - 3600_000) });
  const run2 = await runs.retrieve(past.id);
  assert.equal(run2.status, "QUEUED");
  assert.equal(run2.delayedUntil, undefined);
});

test("ttl: a duration string is kept as given", async () => {
  const task = uid("compat-ttl-");
  const a = await tasks.trigger(task, {}, { ttl: "1h" });
  assert.equal((await runs.retrieve(a.id)).ttl, "1h");
  const c = await tasks.trigger(task, {}, { ttl: "30m" });
  const run = await runs.retrieve(c.id);
  assert.equal(run.ttl, "30m");
  assert.equal(run.expiredAt, undefined);
});

test("ttl: a number of seconds is stored as a duration string (3661 -> 1h1m1s)", async () => {
  // triggerTask.server.ts: typeof ttl === "number" ? stringifyDuration(ttl) : ttl
  const b = await tasks.trigger(uid("compat-ttl-n-"), {}, { ttl: 3661 });
  assert.equal((await runs.retrieve(b.id)).ttl, "1h1m1s");
  const d = await tasks.trigger(uid("compat-ttl-n-"), {}, { ttl: 7200 });
  assert.equal((await runs.retrieve(d.id)).ttl, "2h");
});

test("tags: up to 10, returned sorted; a single string is one tag", async () => {
  const task = uid("compat-tags-");
  const h = await tasks.trigger(task, {}, { tags: ["charlie", "alpha", "bravo"] });
  assert.deepEqual((await runs.retrieve(h.id)).tags, ["alpha", "bravo", "charlie"]);

  const one = await tasks.trigger(task, {}, { tags: "solo" });
  assert.deepEqual((await runs.retrieve(one.id)).tags, ["solo"]);

  const ten = Array.from({ length: 10 }, (_, i) => `t${9 - i}`);
  const h10 = await tasks.trigger(task, {}, { tags: ten });
  assert.deepEqual((await runs.retrieve(h10.id)).tags, sorted(ten));

  // Tags with ':' and '/' are ordinary tags.
  const odd = await tasks.trigger(task, {}, { tags: ["env:staging", "user/1"] });
  assert.deepEqual((await runs.retrieve(odd.id)).tags, ["env:staging", "user/1"]);
});

test("tags: blank tags are dropped", async () => {
  // triggerTask.server.ts: tags.filter((tag) => tag.trim().length > 0)
  const blank = await tasks.trigger(uid("compat-tags-blank-"), {}, { tags: ["keep", "   ", ""] });
  assert.deepEqual((await runs.retrieve(blank.id)).tags, ["keep"]);
});

test("tags: more than 10 is a 422 and no run is created", async () => {
  const task = uid("compat-tags11-");
  const eleven = Array.from({ length: 11 }, (_, i) => `x${i}`);
  await rejectsApi(
    tasks.trigger(task, {}, { tags: eleven }),
    UnprocessableEntityError,
    422,
    /Runs can only have 10 tags, you're trying to set 11/
  );
  assert.deepEqual(await listIds(runs, { taskIdentifier: task }), []);
});

test("tags: a tag longer than 128 characters is a 400", async () => {
  await rejectsApi(
    tasks.trigger(uid("compat-taglen-"), {}, { tags: ["x".repeat(129)] }),
    BadRequestError,
    400
  );
});

test("metadata: stored and returned by retrieve", async () => {
  const metadata = { progress: 0.5, user: { id: "u1", roles: ["a", "b"] }, done: false, none: null };
  const h = await tasks.trigger(uid("compat-meta-"), {}, { metadata });
  assert.deepEqual((await runs.retrieve(h.id)).metadata, metadata);
});

test("machine: stored on the run (runs.list filter[machine]); an unknown preset is a 400", async () => {
  const task = uid("compat-machine-");
  const tag = uid("mtag-");
  const big = await tasks.trigger(task, {}, { machine: "large-2x", tags: [tag] });
  const small = await tasks.trigger(task, {}, { machine: "micro", tags: [tag] });
  assert.equal((await runs.retrieve(big.id)).status, "QUEUED");
  assert.deepEqual(await listIds(runs, { tag, machine: "large-2x" }), [big.id]);
  assert.deepEqual(await listIds(runs, { tag, machine: "micro" }), [small.id]);
  assert.deepEqual(await listIds(runs, { tag, machine: "medium-1x" }), []);

  await rejectsApi(tasks.trigger(task, {}, { machine: "huge-9x" }), BadRequestError, 400);
});

test("priority, maxAttempts, maxDuration: accepted; a non-integer maxAttempts is a 400", async () => {
  const task = uid("compat-prio-");
  for (const opts of [{ priority: 60 }, { maxAttempts: 3 }, { maxDuration: 300 }]) {
    const h = await tasks.trigger(task, {}, opts);
    assert.match(h.id, RUN_ID, JSON.stringify(opts));
    assert.equal((await runs.retrieve(h.id)).status, "QUEUED", JSON.stringify(opts));
  }
  // TriggerTaskRequestBody: maxAttempts is z.number().int()
  await rejectsApi(tasks.trigger(task, {}, { maxAttempts: 1.5 }), BadRequestError, 400);
});

test("test: options.test marks the run isTest (raw ApiClient: tasks.trigger only sets it inside a task)", async () => {
  // shared.js trigger_internal sends `test: taskContext.ctx?.run.isTest`, so
  // outside a task the SDK cannot set it; call the same ApiClient method.
  const task = uid("compat-test-");
  const tag = uid("ttag-");
  const h = await apiClient().triggerTask(task, {
    payload: JSON.stringify({ t: 1 }),
    options: { test: true, payloadType: "application/json", tags: [tag] },
  });
  const plain = await tasks.trigger(task, {}, { tags: [tag] });
  const run = await runs.retrieve(h.id);
  assert.equal(run.isTest, true);
  assert.deepEqual(run.payload, { t: 1 });
  assert.equal((await runs.retrieve(plain.id)).isTest, false);
  assert.deepEqual(await listIds(runs, { tag, isTest: true }), [h.id]);
  assert.deepEqual(await listIds(runs, { tag, isTest: false }), [plain.id]);
});

test("all options together on one run", async () => {
  const task = uid("compat-all-");
  const queue = uid("compat-allq-");
  const t0 = Date.now();
  const h = await tasks.trigger(
    task,
    { all: true },
    {
      queue,
      concurrencyKey: "tenant-7",
      delay: "10m",
      ttl: "2h",
      idempotencyKey: uid("all-key-"),
      idempotencyKeyTTL: "1h",
      tags: ["z-last", "a-first"],
      metadata: { step: 1 },
      priority: 10,
      machine: "small-2x",
      maxAttempts: 2,
      maxDuration: 120,
    }
  );
  const run = await runs.retrieve(h.id);
  assert.equal(run.status, "DELAYED");
  near(run.delayedUntil, t0 + 600_000, 60_000, "delayedUntil");
  assert.equal(run.ttl, "2h");
  assert.deepEqual(run.tags, ["a-first", "z-last"]);
  assert.deepEqual(run.metadata, { step: 1 });
  assert.match(run.idempotencyKey, /^all-key-/);
  assert.deepEqual(run.payload, { all: true });
  assert.deepEqual(await listIds(runs, { tag: "z-last", queue: { type: "custom", name: queue }, machine: "small-2x" }), [h.id]);
});

test("a trigger whose response is lost is retried by the SDK without creating a second run", async () => {
  // zodfetch sends one x-trigger-request-idempotency-key per logical call and
  // reuses it on retries; the server replays the first run (spec/api.md 1.5).
  const task = uid("compat-retry-");
  const orig = globalThis.fetch;
  let dropped = 0;
  globalThis.fetch = async (input, init) => {
    const res = await orig(input, init);
    const url = typeof input === "string" ? input : input.url;
    if (dropped === 0 && url.endsWith(`/api/v1/tasks/${task}/trigger`)) {
      dropped++;
      throw new TypeError("fetch failed"); // the run exists, the client never hears of it
    }
    return res;
  };
  let h;
  try {
    h = await tasks.trigger(task, { once: true });
  } finally {
    globalThis.fetch = orig;
  }
  assert.equal(dropped, 1);
  assert.deepEqual(await listIds(runs, { taskIdentifier: task }), [h.id]);
  assert.deepEqual((await runs.retrieve(h.id)).payload, { once: true });
});
