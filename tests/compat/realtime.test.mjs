// Realtime run feeds (spec/api.md 6.13 [63]-[65]) with the real SDK:
// runs.subscribeToRun, subscribeToRunsWithTag, subscribeToBatch and a run's
// public token. Runs change from outside a task here (metadata, tags,
// reschedule, cancel); the dev CLI suite covers feeds of executing runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { tasks, runs, batch, auth, configure, SDK_VERSION } from "./sdk.mjs";
import { startServer, uid, sleep, apiClient, FAST_RETRY } from "./helpers.mjs";

// The iterator ends by itself at the finished row from SDK 4.6 on
// (RunSubscription terminates its stream); 4.5.0 only stops polling and
// leaves the iterator open, so a 4.5 caller breaks out (against the cloud too).
const ENDS_ITSELF = !SDK_VERSION.startsWith("4.5.");

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv?.stop();
  // 4.5.0's RunSubscription has no cancel: a consumer that breaks out leaves
  // its shape stream polling (and retrying once the server is gone), which
  // keeps this file's process alive. Later SDKs stop it on break.
  if (!ENDS_ITSELF) setTimeout(() => process.exit(0), 2000).unref();
});

/** Collects the updates of an async iterator until done(update) or the timeout. */
async function collectUntil(iter, done, timeout = 30000) {
  const seen = [];
  const timer = setTimeout(() => iter.return?.(), timeout);
  try {
    for await (const u of iter) {
      seen.push(u);
      if (done(u, seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

test("subscribeToRun: the initial row, live metadata and tag changes, and the end at cancel", async () => {
  const h = await tasks.trigger(uid("rt-run-"), { n: 1 }, { delay: "1h", tags: ["rt-a"], metadata: { step: 0 } });
  const sub = runs.subscribeToRun(h.id);
  const seen = [];
  const reading = (async () => {
    for await (const r of sub) {
      seen.push({ status: r.status, metadata: r.metadata, tags: r.tags, finishedAt: r.finishedAt });
      if (!ENDS_ITSELF && r.finishedAt) break;
    }
  })();
  const waitSeen = async (pred, what) => {
    const deadline = Date.now() + 20000;
    while (!seen.some(pred)) {
      if (Date.now() > deadline) throw new Error(`no update with ${what}: ${JSON.stringify(seen)}`);
      await sleep(50);
    }
  };
  await waitSeen((u) => u.status === "DELAYED", "the initial DELAYED row");
  assert.deepEqual(seen[0].metadata, { step: 0 });
  assert.deepEqual(seen[0].tags, ["rt-a"]);

  await apiClient().updateRunMetadata(h.id, { metadata: { step: 1 } });
  await waitSeen((u) => u.metadata?.step === 1, "metadata step 1");
  await apiClient().addTags(h.id, { tags: ["rt-b"] });
  await waitSeen((u) => u.tags?.includes("rt-b"), "the added tag");
  await runs.reschedule(h.id, { delay: new Date(Date.now() + 3600_000) });
  await runs.cancel(h.id);
  await waitSeen((u) => u.status === "CANCELED", "CANCELED");
  await Promise.race([reading, sleep(10000).then(() => assert.fail("the stream did not end"))]);
  const last = seen[seen.length - 1];
  assert.equal(last.status, "CANCELED");
  assert.ok(last.finishedAt instanceof Date);
});

test("subscribeToRun of a finished run yields it once and ends", async () => {
  const h = await tasks.trigger(uid("rt-done-"), {}, { delay: "1h" });
  await runs.cancel(h.id);
  const seen = await collectUntil(runs.subscribeToRun(h.id), (u) => !ENDS_ITSELF && !!u.finishedAt, 15000);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].id, h.id);
  assert.equal(seen[0].status, "CANCELED");
});

test("subscribeToRunsWithTag follows every run with the tag, and none without it", async () => {
  const tag = uid("rt-tag-");
  const task = uid("rt-tagged-");
  const a = await tasks.trigger(task, { i: 0 }, { tags: [tag], delay: "1h" });
  const other = await tasks.trigger(task, { i: 9 }, { tags: [uid("rt-other-")], delay: "1h" });
  const ids = new Set([a.id]);
  const final = new Map();
  const iter = runs.subscribeToRunsWithTag(tag);
  const reading = collectUntil(
    iter,
    (u) => {
      assert.notEqual(u.id, other.id, "a run without the tag is not in the feed");
      if (u.status === "CANCELED") final.set(u.id, u);
      return final.size === 3;
    },
    30000,
  );
  await sleep(300);
  // a run triggered after the feed started joins it
  const b = await tasks.trigger(task, { i: 1 }, { tags: [tag], delay: "1h" });
  const c = await tasks.trigger(task, { i: 2 }, { tags: [tag, "rt-extra"], delay: "1h" });
  ids.add(b.id).add(c.id);
  for (const id of ids) await runs.cancel(id);
  await runs.cancel(other.id);
  await reading;
  assert.deepEqual(new Set(final.keys()), ids);
});

test("subscribeToBatch follows the runs of a batch to their end", async () => {
  const task = uid("rt-batch-");
  const res = await tasks.batchTrigger(task, [
    { payload: { i: 0 }, options: { delay: "1h" } },
    { payload: { i: 1 }, options: { delay: "1h" } },
  ]);
  const list = await batch.retrieve(res.batchId);
  assert.equal(list.runCount, 2);
  const final = new Set();
  const reading = collectUntil(
    runs.subscribeToBatch(res.batchId),
    (u) => {
      if (u.status === "CANCELED") final.add(u.id);
      return final.size === 2;
    },
    30000,
  );
  await sleep(300);
  const page = await runs.list({ batch: res.batchId });
  for (const r of page.data) await runs.cancel(r.id);
  await reading;
  assert.equal(final.size, 2);
});

test("a run's own public token subscribes to it and cannot read another run", async () => {
  const h = await tasks.trigger(uid("rt-jwt-"), {}, { delay: "1h" });
  const other = await tasks.trigger(uid("rt-jwt-other-"), {}, { delay: "1h" });
  assert.ok(h.publicAccessToken, "the trigger response carries a token");
  configure({ baseURL: srv.url, accessToken: h.publicAccessToken, requestOptions: { retry: FAST_RETRY } });
  try {
    const first = await collectUntil(runs.subscribeToRun(h.id), () => true, 15000);
    assert.equal(first[0].id, h.id);
    // the feed refuses it with the real API's 403 ...
    const res = await fetch(`${srv.url}/realtime/v1/runs/${other.id}`, {
      headers: { authorization: `Bearer ${h.publicAccessToken}` },
    });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).error, "Unauthorized");
    // ... and the SDK yields nothing of it (4.5.0 swallows the error and
    // leaves the iterator pending; later versions reject)
    const other$ = (async () => {
      for await (const r of runs.subscribeToRun(other.id)) return r;
    })().catch((e) => e);
    const got = await Promise.race([other$, sleep(3000).then(() => "nothing")]);
    assert.ok(got === "nothing" || got instanceof Error, `another run's row: ${JSON.stringify(got)}`);
  } finally {
    configure({ baseURL: srv.url, accessToken: srv.keys.dev, requestOptions: { retry: FAST_RETRY } });
  }
  await runs.cancel(h.id);
  await runs.cancel(other.id);
});

test("a live feed resumes across a triggerd restart without losing a change", async () => {
  const h = await tasks.trigger(uid("rt-restart-"), {}, { delay: "1h", metadata: { v: 0 } });
  const seen = [];
  const reading = (async () => {
    for await (const r of runs.subscribeToRun(h.id)) {
      seen.push(r.metadata?.v);
      if (!ENDS_ITSELF && r.finishedAt) break;
    }
  })().catch(() => {});
  const until = async (pred) => {
    const deadline = Date.now() + 25000;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(seen)}`);
      await sleep(50);
    }
  };
  await until(() => seen.includes(0));
  await srv.restart();
  await apiClient().updateRunMetadata(h.id, { metadata: { v: 1 } });
  await until(() => seen.includes(1));
  await runs.cancel(h.id);
  await Promise.race([reading, sleep(15000)]);
});
