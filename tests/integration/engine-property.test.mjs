// tests/integration/engine-property.test.mjs - random interleavings of the
// run engine's events, checked against invariants after every step (issue 7).
//
// A seeded PRNG picks each step: trigger (some with short TTLs), dequeue,
// start, wait (duration, token), triggerAndWait, batchTriggerAndWait (some
// with an invalid 11-tag item), complete, fail (with or without retry),
// cancel, stall (the worker forgets a run: no more heartbeats), a wait asked
// for a run that is not executing, complete a token, let time pass. The fake
// worker (worker.mjs) behaves like the CLI for the runs it still holds: every
// step it polls their latest snapshot, reacts (resume after a wait, answer a
// PENDING_CANCEL with the cancelled completion), and heartbeats.
//
// Invariants, checked after every step:
//   - a finished run never changes again (status; output and error too,
//     checked every few steps and at the end)
//   - a run canceled while not final is CANCELED at once, never gets an
//     EXECUTING snapshot, a started attempt or a dequeue afterwards
//   - a wait request for a run that is not executing is refused (4xx)
//   - a parent whose waited-on children are all final resumes within a
//     bounded time, with one waitpoint per child / batch index
//   - no 5xx answer, ever
// and after a drain phase (a well-behaved worker completes everything, TTLs
// pass, tokens are completed) every acknowledged run is in a final state.
//
// The phases run once with the dev key (stalls fail the run) and once with
// the prod key (stalls requeue it). PROPERTY_SEED=<n> replays a seed
// (printed at the start), PROPERTY_STEPS=<n> changes the length.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startTriggerd, stopServer, uid, sleep } from "./helpers.mjs";
import { FakeWorker, FINAL } from "./worker.mjs";

const SEED = Number(process.env.PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const STEPS = Number(process.env.PROPERTY_STEPS ?? 120);
const STALL_MS = 1500; // --heartbeat-timeout
const RESUME_BOUND_MS = 3000; // a parent whose children are all final resumes within this
const DRAIN_MS = 12000;
const tags11 = Array.from({ length: 11 }, (_, i) => `t${i}`);

console.log(`# engine-property: PROPERTY_SEED=${SEED} PROPERTY_STEPS=${STEPS}`);

/** mulberry32: a small seeded PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
}

let srv;
after(async () => {
  await stopServer(srv);
});

/** One phase: `steps` random steps in the env of `key`, then the drain. */
async function phase(name, key, seed, steps) {
  const rnd = prng(seed);
  const w = new FakeWorker(srv, { key });
  const T = { root: uid("pr-root-"), child: uid("pr-child-"), item: uid("pr-item-") };
  const limited = uid("pr-lim-");
  await w.register(
    [{ id: T.root }, { id: T.child, queue: { name: limited } }, { id: T.item }],
    { queues: [{ name: limited, concurrencyLimit: 2 }] },
  );

  const violations = [];
  const log = []; // the last steps, for the failure message
  let stepNo = 0;
  const reported = new Set();
  /** Records a violation once per `key` (default: the message). */
  const violate = (msg, key = msg) => {
    if (reported.has(key)) return;
    reported.add(key);
    if (violations.length < 40) violations.push(`[${name} step ${stepNo}] ${msg}`);
  };

  // the model ---------------------------------------------------------------
  const runs = new Map(); // id -> {id, kind, parent?, status, final?: {status, output, error}, canceled?: {attempts}}
  const local = new Map(); // runs the worker holds: id -> {snap, phase: dequeued|executing|waiting|cancelling, attempt, waits?}
  const waits = new Map(); // parent id -> {children: [ids], batch?: {id, n}, allFinalAt?: ms}
  const tokens = []; // pending token ids
  const call = async (what, p) => {
    const res = await p;
    if (res.status >= 500) violate(`${what}: ${res.status} ${res.text}`);
    return res;
  };

  const track = (id, kind, parent) => {
    if (!runs.has(id)) runs.set(id, { id, kind, parent, status: "QUEUED" });
  };

  // observation ---------------------------------------------------------------
  async function listAll() {
    const out = new Map();
    let after = "";
    for (let page = 0; page < 20; page++) {
      const res = await call("runs list", w.call("GET", `/api/v1/runs?page[size]=100${after}`));
      if (res.status !== 200) break;
      for (const r of res.json.data) out.set(r.id, r.status);
      if (!res.json.pagination?.next) break;
      after = `&page[after]=${res.json.pagination.next}`;
    }
    return out;
  }

  async function observeFinal(run) {
    const r = await w.retrieve(run.id);
    return { status: r.status, output: JSON.stringify(r.output ?? null), error: JSON.stringify(r.error ?? null), attempts: r.attemptCount };
  }

  async function checkInvariants(deep) {
    const statuses = await listAll();
    const now = Date.now();
    for (const run of runs.values()) {
      const s = statuses.get(run.id);
      if (s === undefined) {
        violate(`acknowledged run ${run.id} is missing from the runs list`);
        continue;
      }
      if (run.final && s !== run.final.status) violate(`finished run ${run.id} changed ${run.final.status} -> ${s}`, `changed ${run.id}`);
      run.status = s;
      if (FINAL.has(s) && !run.final) run.final = await observeFinal(run);
      else if (run.final && deep) {
        const f = await observeFinal(run);
        for (const k of ["status", "output", "error"])
          if (f[k] !== run.final[k]) violate(`finished run ${run.id} changed its ${k}: ${run.final[k]} -> ${f[k]}`, `changed ${k} ${run.id}`);
      }
      if (run.canceled && s !== "CANCELED") violate(`run ${run.id} canceled while not final is ${s}`, `canceled ${run.id} ${s}`);
      if (run.canceled && !FINAL.has(s)) {
        const l = await w.latestRaw(run.id);
        if (l.status === 200 && l.json.execution.snapshot.executionStatus === "EXECUTING")
          violate(`canceled run ${run.id} has an EXECUTING snapshot (${l.json.execution.snapshot.description})`, `canceled executing ${run.id}`);
      }
    }
    // parents whose waited-on children are all final resume
    for (const [pid, wt] of waits) {
      const parent = runs.get(pid);
      const lw = local.get(pid);
      if (!lw || lw.phase !== "waiting" || FINAL.has(parent.status)) {
        waits.delete(pid);
        continue;
      }
      const allFinal = wt.children.length > 0 && wt.children.every((c) => FINAL.has(runs.get(c)?.status ?? statuses.get(c)));
      if (!allFinal) continue;
      wt.allFinalAt ??= now;
      if (now - wt.allFinalAt > RESUME_BOUND_MS) {
        violate(`parent ${pid} still blocked ${now - wt.allFinalAt} ms after its children ${wt.children.join(",")} finished (${wt.children.map((c) => runs.get(c)?.status)})`);
        waits.delete(pid); // report once
      }
    }
  }

  /** The worker's poll of one run it holds: react like the CLI does. */
  async function poll(id) {
    const lw = local.get(id);
    const res = await call(`latest ${id}`, w.latestRaw(id));
    if (res.status !== 200) return;
    const ex = res.json.execution;
    const st = ex.snapshot.executionStatus;
    const changed = ex.snapshot.friendlyId !== lw.snap;
    lw.snap = ex.snapshot.friendlyId;
    if (runs.get(id)?.canceled && st === "EXECUTING") violate(`canceled run ${id}: the worker was handed an EXECUTING snapshot`, `canceled executing ${id}`);
    if (st === "FINISHED" || st === "QUEUED" || st === "DELAYED") {
      local.delete(id);
      waits.delete(id);
      return;
    }
    if (lw.attempt && ex.run.attemptNumber !== lw.attempt) {
      local.delete(id); // the CLI gives the run up locally ("Attempt number changed")
      return;
    }
    if (st === "PENDING_CANCEL") {
      lw.phase = "cancelling";
    } else if (st === "EXECUTING" && changed && lw.phase === "waiting") {
      const wt = waits.get(id);
      if (wt?.batch) {
        const idx = new Set(ex.completedWaitpoints.filter((x) => x.type === "RUN").map((x) => x.index));
        if (idx.size !== wt.batch.n) violate(`parent ${id} resumed from batch ${wt.batch.id} with waitpoints for indexes ${[...idx]} of ${wt.batch.n}`);
      }
      if (!ex.completedWaitpoints.length) violate(`parent ${id} continued with no completed waitpoints`);
      lw.phase = "executing";
      waits.delete(id);
    } else if (st === "EXECUTING_WITH_WAITPOINTS") {
      lw.phase = "waiting";
    }
    await call(`heartbeat ${id}`, w.heartbeatRaw(id, lw.snap));
  }

  // steps -------------------------------------------------------------------------
  const inPhase = (...ph) => [...local.entries()].filter(([, l]) => ph.includes(l.phase)).map(([id]) => id);
  const ttl = () => (rnd.chance(0.25) ? "1s" : undefined);

  async function start(id) {
    const lw = local.get(id);
    const res = await call(`start ${id}`, w.startRaw(id, lw.snap));
    if (res.status === 200) {
      if (runs.get(id)?.canceled) violate(`canceled run ${id} started an attempt`);
      lw.snap = res.json.snapshot.friendlyId;
      lw.attempt = res.json.run.attemptNumber;
      lw.phase = "executing";
    } else {
      local.delete(id);
    }
  }

  async function complete(id, how) {
    const lw = local.get(id);
    let res;
    if (how === "ok") res = await call(`complete ${id}`, w.succeed(id, { id, step: stepNo }, { snapshotId: lw.snap }));
    else if (how === "cancelled") res = await call(`cancelled ${id}`, w.cancelled(id, { snapshotId: lw.snap }));
    else res = await call(`fail ${id}`, w.fail(id, { snapshotId: lw.snap, retryMs: how === "retry" ? 50 : undefined }));
    if (res.status === 200) {
      local.delete(id);
      waits.delete(id);
    }
  }

  const actions = [
    [6, async () => {
      const res = await call("trigger", w.triggerRaw(T.root, { ttl: ttl() }));
      if (res.status === 200) track(res.json.id, "root");
      return `trigger root ${res.json?.id}`;
    }],
    [6, async () => {
      const msgs = await w.dequeue({ maxRuns: rnd.int(1, 4) });
      for (const m of msgs) {
        const id = m.run.friendlyId;
        if (runs.get(id)?.canceled) violate(`canceled run ${id} was dequeued`);
        w.dequeued.delete(id);
        local.set(id, { snap: m.snapshot.friendlyId, phase: "dequeued" });
      }
      return `dequeue -> ${msgs.map((m) => m.run.friendlyId).join(",")}`;
    }],
    [6, async () => {
      const ids = inPhase("dequeued");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      await start(id);
      return `start ${id}`;
    }],
    [3, async () => {
      const ids = inPhase("executing");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      const res = await call(`wait ${id}`, w.waitDuration(id, rnd.int(100, 1500)));
      if (res.status === 200) local.get(id).phase = "waiting";
      return `wait.for ${id} -> ${res.status}`;
    }],
    [2, async () => {
      const ids = inPhase("executing");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      const token = await w.createToken(rnd.chance(0.3) ? { timeout: "1s" } : {});
      tokens.push(token);
      const res = await call(`token wait ${id}`, w.waitToken(id, token));
      if (res.status === 200) local.get(id).phase = "waiting";
      return `wait.forToken ${id} ${token} -> ${res.status}`;
    }],
    [2, async () => {
      if (!tokens.length) return null;
      const t = tokens.splice(rnd.int(0, tokens.length - 1), 1)[0];
      await call(`complete token ${t}`, w.completeToken(t, { t }));
      return `complete token ${t}`;
    }],
    [3, async () => {
      const ids = inPhase("executing");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      const res = await call(
        `triggerAndWait from ${id}`,
        w.triggerRaw(T.child, { ttl: ttl(), lockToVersion: w.current.version, resumeParentOnCompletion: true, parentRunId: id }),
      );
      if (res.status === 200) {
        track(res.json.id, "child", id);
        local.get(id).phase = "waiting";
        waits.set(id, { children: [res.json.id] });
      }
      return `triggerAndWait ${id} -> ${res.json?.id}`;
    }],
    [2, async () => {
      const ids = inPhase("executing");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      const n = rnd.int(1, 3);
      const items = Array.from({ length: n }, () => ({
        options: rnd.chance(0.15) ? { tags: tags11 } : { ttl: ttl() },
      }));
      const { batchId } = await w.batchTriggerAndWait(id, T.item, items);
      local.get(id).phase = "waiting";
      const br = await w.batchRuns(batchId);
      for (const r of br) track(r.id, "item", id);
      // a batch whose items all exist has n runs; fewer is the missing-item bug (item 3)
      if (br.length !== n) violate(`batch ${batchId} of ${n} items has ${br.length} runs`);
      waits.set(id, { children: br.map((r) => r.id), batch: { id: batchId, n } });
      return `batchTriggerAndWait ${id} x${n} -> ${batchId}`;
    }],
    [4, async () => {
      const ids = inPhase("executing");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      const how = rnd.pick(["ok", "ok", "ok", "retry", "fail"]);
      await complete(id, how);
      return `complete ${id} ${how}`;
    }],
    [2, async () => {
      const ids = inPhase("cancelling");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      // the task did not notice the cancel in time: sometimes it reports success
      await complete(id, rnd.chance(0.3) ? "ok" : "cancelled");
      return `complete cancelling ${id}`;
    }],
    [2, async () => {
      const open = [...runs.values()].filter((r) => !FINAL.has(r.status));
      if (!open.length) return null;
      const run = rnd.pick(open);
      const pre = await w.retrieve(run.id);
      const res = await call(`cancel ${run.id}`, w.cancel(run.id));
      const post = await w.retrieve(run.id);
      // a QUEUED run may expire between the two reads; anything else must be CANCELED at once
      const expiredMeanwhile = post.status === "EXPIRED" && pre.status === "QUEUED";
      if (!FINAL.has(pre.status) && res.status === 200 && !expiredMeanwhile) {
        if (post.status !== "CANCELED") violate(`cancel of ${run.id} (${pre.status}) acknowledged, status is ${post.status}`);
        run.canceled = { attempts: post.attemptCount };
      }
      return `cancel ${run.id} (${pre.status} -> ${post.status})`;
    }],
    [1, async () => {
      const ids = inPhase("executing", "waiting", "dequeued");
      if (!ids.length) return null;
      const id = rnd.pick(ids);
      local.delete(id); // the worker vanishes for this run: no heartbeats, no completion
      waits.delete(id);
      return `stall ${id}`;
    }],
    [1, async () => {
      // a wait asked for a run the worker is not executing (finished or queued)
      const cands = [...runs.values()].filter((r) => !local.has(r.id) && (FINAL.has(r.status) || r.status === "QUEUED"));
      if (!cands.length) return null;
      const run = rnd.pick(cands);
      const res = rnd.chance(0.5)
        ? await call(`stale wait ${run.id}`, w.waitDuration(run.id, 300))
        : await call(`stale token wait ${run.id}`, w.waitToken(run.id, await w.createToken()));
      if (res.status < 400) violate(`a wait for ${run.id} (${run.status}) was accepted: ${res.status} ${res.text}`);
      return `stale wait ${run.id} (${run.status}) -> ${res.status}`;
    }],
    [2, async () => {
      const ms = rnd.int(50, 400);
      await sleep(ms);
      return `sleep ${ms}`;
    }],
  ];
  const total = actions.reduce((s, [wgt]) => s + wgt, 0);
  const chooseAction = () => {
    let x = rnd.next() * total;
    for (const [wgt, fn] of actions) if ((x -= wgt) < 0) return fn;
    return actions[actions.length - 1][1];
  };

  for (stepNo = 1; stepNo <= steps; stepNo++) {
    let what = null;
    for (let tries = 0; tries < 5 && what === null; tries++) what = await chooseAction()();
    log.push(`${stepNo}: ${what}`);
    for (const id of [...local.keys()]) if (local.has(id)) await poll(id);
    await checkInvariants(stepNo % 10 === 0);
  }

  // drain: a well-behaved worker finishes everything -------------------------------
  log.push("drain");
  const drainUntil = Date.now() + DRAIN_MS;
  let open = [];
  while (Date.now() < drainUntil) {
    for (const t of tokens.splice(0)) await call(`complete token ${t}`, w.completeToken(t, {}));
    for (const m of await w.dequeue()) {
      const id = m.run.friendlyId;
      w.dequeued.delete(id);
      if (runs.get(id)?.canceled) violate(`canceled run ${id} was dequeued`);
      local.set(id, { snap: m.snapshot.friendlyId, phase: "dequeued" });
    }
    for (const id of [...local.keys()]) {
      if (!local.has(id)) continue;
      const lw = local.get(id);
      if (lw.phase === "dequeued") await start(id);
      else if (lw.phase === "executing") await complete(id, "ok");
      else if (lw.phase === "cancelling") await complete(id, "cancelled");
      if (local.has(id)) await poll(id);
    }
    stepNo++;
    await checkInvariants(false);
    open = [...runs.values()].filter((r) => !FINAL.has(r.status));
    if (!open.length) break;
    await sleep(100);
  }
  for (const run of open) violate(`run ${run.id} (${run.kind}) is still ${run.status} after the drain`);
  await checkInvariants(true);
  for (const run of runs.values()) {
    if (!run.canceled) continue;
    const f = await observeFinal(run);
    if (f.attempts !== run.canceled.attempts) violate(`canceled run ${run.id} started attempts after the cancel (${run.canceled.attempts} -> ${f.attempts})`);
  }
  const counts = {};
  for (const r of runs.values()) counts[r.status] = (counts[r.status] ?? 0) + 1;
  console.log(`# ${name}: ${runs.size} runs, ${steps} steps, final statuses ${JSON.stringify(counts)}`);
  assert.equal(
    violations.length,
    0,
    `seed ${seed} (${name}): ${violations.length} invariant violations\n  ` + violations.join("\n  ") + `\nlast steps:\n  ` + log.slice(-25).join("\n  "),
  );
}

test("random interleavings keep the engine's invariants (dev env: stalls fail the run)", { timeout: 90_000 }, async () => {
  srv = await startTriggerd({ args: ["--heartbeat-timeout", String(STALL_MS)] });
  await phase("dev", srv.keys.dev, SEED, STEPS);
});

test("random interleavings keep the engine's invariants (prod env: stalls requeue the run)", { timeout: 90_000 }, async () => {
  srv ??= await startTriggerd({ args: ["--heartbeat-timeout", String(STALL_MS)] });
  await phase("prod", srv.keys.prod, SEED + 1, STEPS);
});
