// bench/peers/drive.mjs - the workload, driven by bench/peers/run for one system at a time.
//
//   node drive.mjs bench  <system>                       -> prints one JSON result line
//   node drive.mjs worker <system> <queue> <count|0>     -> (child) no-op worker, see below
//
// Systems: triggerd, bullmq, graphile, pgboss, beanstalkd. Connection details come from the
// environment set by `run` (TRIGGERD_URL/KEY/WORKER, REDIS_PORT, PG_URL, BEANSTALK_PORT,
// SERVER_PID). Figures: enqueue throughput (single, batch), drain throughput with 8 no-op
// workers, enqueue -> handler start latency at a fixed rate, server CPU and peak memory.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import net from "node:net";
import { createInterface } from "node:readline";

const E = process.env;
const N = Number(E.BENCH_JOBS || 100000);          // jobs per enqueue phase
const RATE = Number(E.BENCH_RATE || 1000);         // latency phase: jobs/s
const SECS = Number(E.BENCH_SECS || 30);           // latency phase: seconds
const INFLIGHT = Number(E.BENCH_INFLIGHT || 64);   // single enqueues in flight from the one client
const CONC = Number(E.BENCH_CONCURRENCY || 8);     // worker concurrency, same for all
const LAT_WAIT = Number(E.BENCH_LAT_WAIT || 30);   // s to wait for stragglers after the last enqueue
const BATCH = 1000;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BODY = { orderId: "ord_0123456789", customer: { id: "cus_42", email: "someone@example.com" },
  lines: [{ sku: "A-1", qty: 2 }, { sku: "B-7", qty: 1 }], note: "benchmark payload of about two hundred bytes" };
const payload = () => ({ ...BODY, t: now() });   // ~200 bytes of JSON

// ---------------------------------------------------------------- beanstalkd raw client
class Beanstalk {
  constructor(port) { this.port = port; this.buf = Buffer.alloc(0); this.q = []; }
  connect() {
    return new Promise((res, rej) => {
      this.s = net.connect(this.port, "127.0.0.1", res);
      this.s.setNoDelay(true);
      this.s.once("error", rej);
      this.s.on("data", (d) => { this.buf = Buffer.concat([this.buf, d]); this.pump(); });
    });
  }
  pump() {
    while (this.q.length) {
      const nl = this.buf.indexOf("\r\n");
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString();
      let end = nl + 2, body = null;
      if (line.startsWith("RESERVED")) {
        const bytes = Number(line.split(" ")[2]);
        if (this.buf.length < end + bytes + 2) return;
        body = this.buf.subarray(end, end + bytes).toString();
        end += bytes + 2;
      }
      this.buf = this.buf.subarray(end);
      this.q.shift()({ line, body });
    }
  }
  cmd(s) { return new Promise((r) => { this.q.push(r); this.s.write(s); }); }
  put(data) { const b = Buffer.from(data); return this.cmd(Buffer.concat([Buffer.from(`put 0 0 60 ${b.length}\r\n`), b, Buffer.from("\r\n")])); }
  close() { this.s.destroy(); }
}

// ---------------------------------------------------------------- adapters (producer side)
async function producer(system) {
  if (system === "triggerd") {
    const H = { authorization: `Bearer ${E.TRIGGERD_KEY}`, "content-type": "application/json", "x-trigger-api-version": "2025-07-16" };
    const url = E.TRIGGERD_URL;
    const task = () => "hello";   // the C worker serves "hello", a near no-op
    // node:http with keep-alive: Node 20's fetch (undici) tops out near a third of its rate here
    const agent = new http.Agent({ keepAlive: true, maxSockets: INFLIGHT });
    const post = (path, body) => new Promise((res, rej) => {
      const r = http.request(url + path, { method: "POST", headers: H, agent }, (s) => {
        const chunks = []; s.on("data", (c) => chunks.push(c));
        s.on("end", () => { const t = Buffer.concat(chunks).toString();
          if (s.statusCode !== 200 && s.statusCode !== 202) rej(new Error(`${path} ${s.statusCode} ${t}`)); else res(JSON.parse(t)); });
      });
      r.on("error", rej); r.end(body);
    });
    return {
      batchSize: 500,
      async one(q, p, tags) {
        return (await post(`/api/v1/tasks/${task(q)}/trigger`,
          JSON.stringify({ payload: JSON.stringify(p), options: tags ? { tags } : undefined }))).id;
      },
      async many(q, ps) {
        await post("/api/v2/tasks/batch", JSON.stringify({ items: ps.map((p) => ({ task: task(q), payload: JSON.stringify(p) })) }));
      },
      async close() { agent.destroy(); },
      H, url,
    };
  }
  if (system === "bullmq") {
    const { Queue } = await import("bullmq");
    const connection = { host: "127.0.0.1", port: Number(E.REDIS_PORT) };
    const qs = {};
    const Q = (q) => (qs[q] ??= new Queue(q, { connection }));
    return {
      batchSize: BATCH,
      one: (q, p) => Q(q).add("job", p),
      many: (q, ps) => Q(q).addBulk(ps.map((p) => ({ name: "job", data: p }))),
      async close() { for (const q of Object.values(qs)) await q.close(); },
    };
  }
  if (system === "graphile") {
    const { makeWorkerUtils } = await import("graphile-worker");
    const u = await makeWorkerUtils({ connectionString: E.PG_URL });
    await u.migrate();
    return {
      batchSize: BATCH,
      one: (q, p) => u.addJob(q, p),
      // graphile-worker 0.16's bulk insert: graphile_worker.add_jobs(job_spec[])
      many: (q, ps) => u.withPgClient((c) => c.query(
        "select graphile_worker.add_jobs(array(select json_populate_recordset(null::graphile_worker.job_spec, $1::json)))",
        [JSON.stringify(ps.map((p) => ({ identifier: q, payload: p })))])),
      close: () => u.release(),
    };
  }
  if (system === "pgboss") {
    const { default: PgBoss } = await import("pg-boss");
    const boss = new PgBoss({ connectionString: E.PG_URL, supervise: false, schedule: false });
    boss.on("error", (e) => console.error("pg-boss:", e.message));
    await boss.start();
    for (const q of ["drain", "lat"]) await boss.createQueue(q);
    return {
      batchSize: BATCH,
      one: (q, p) => boss.send(q, p),
      many: (q, ps) => boss.insert(ps.map((p) => ({ name: q, data: p }))),
      close: () => boss.stop({ graceful: false, wait: true }),
    };
  }
  if (system === "beanstalkd") {
    const conns = {};
    const C = async (q) => {
      if (!conns[q]) { const c = new Beanstalk(Number(E.BEANSTALK_PORT)); await c.connect(); await c.cmd(`use ${q}\r\n`); conns[q] = c; }
      return conns[q];
    };
    return {
      batchSize: 0,   // no batch put in the protocol
      async one(q, p) { const r = await (await C(q)).put(JSON.stringify(p)); if (!r.line.startsWith("INSERTED")) throw new Error(r.line); },
      async close() { for (const c of Object.values(conns)) c.close(); },
    };
  }
  throw new Error("unknown system " + system);
}

// ---------------------------------------------------------------- worker child
async function workerMain(system, q, count) {
  count = Number(count);
  const lats = [];
  let done = 0, t0 = 0, finished = false, stop;
  const finish = async () => {
    if (finished) return; finished = true;
    const secs = (now() - t0) / 1000;
    writeFileSync(E.BENCH_RESULT_FILE, JSON.stringify({ done, secs, lats }));
    try { await Promise.race([stop?.(), sleep(3000)]); } catch {}
    process.exit(0);
  };
  const handler = (data) => {
    const d = typeof data === "string" ? JSON.parse(data) : data;
    if (q === "lat") lats.push(now() - d.t);
    if (++done === count) setImmediate(finish);
  };
  let start;
  if (system === "bullmq") {
    const { Worker } = await import("bullmq");
    const connection = { host: "127.0.0.1", port: Number(E.REDIS_PORT), maxRetriesPerRequest: null };
    start = async () => {
      const w = new Worker(q, async (job) => { handler(job.data); }, { connection, concurrency: CONC });
      stop = () => w.close(true);
    };
  } else if (system === "graphile") {
    const { run } = await import("graphile-worker");
    start = async () => {
      const r = await run({ connectionString: E.PG_URL, concurrency: CONC, noHandleSignals: true,
        taskList: { [q]: async (p) => { handler(p); } } });
      stop = () => r.stop();
    };
  } else if (system === "pgboss") {
    // pg-boss's work() sleeps its polling interval (>= 0.5 s) after every fetch, so a worker
    // built on it caps at 2 jobs/s per loop; use pg-boss's own fetch/complete in CONC loops
    // that poll every 2 ms when idle, like the C worker does against triggerd.
    const { default: PgBoss } = await import("pg-boss");
    const boss = new PgBoss({ connectionString: E.PG_URL, supervise: false, schedule: false, max: CONC + 2 });
    boss.on("error", (e) => console.error("pg-boss:", e.message));
    await boss.start();
    let running = true;
    start = async () => {
      for (let i = 0; i < CONC; i++) (async () => {
        while (running) {
          const jobs = await boss.fetch(q);
          if (!jobs || !jobs.length) { await sleep(2); continue; }
          for (const j of jobs) { handler(j.data); await boss.complete(q, j.id); }
        }
      })();
      stop = async () => { running = false; await boss.stop({ graceful: false, wait: true }); };
    };
  } else if (system === "beanstalkd") {
    let running = true;
    const conns = [];
    for (let i = 0; i < CONC; i++) {
      const c = new Beanstalk(Number(E.BEANSTALK_PORT)); await c.connect();
      await c.cmd(`watch ${q}\r\n`); await c.cmd("ignore default\r\n"); conns.push(c);
    }
    start = async () => {
      for (const c of conns) (async () => {
        while (running) {
          const r = await c.cmd("reserve-with-timeout 1\r\n");
          if (!r.line.startsWith("RESERVED")) continue;
          handler(r.body);
          await c.cmd(`delete ${r.line.split(" ")[1]}\r\n`);
        }
      })();
      stop = async () => { running = false; conns.forEach((c) => c.close()); };
    };
  }
  const rl = createInterface({ input: process.stdin });
  console.log("ready");
  for await (const line of rl) {
    if (line === "go") { t0 = now(); await start(); }
    if (line === "stop") await finish();
  }
  await finish();
}

function spawnWorker(system, q, count) {
  const dir = mkdtempSync(tmpdir() + "/bench-worker-");
  const file = dir + "/result.json";
  const c = spawn(process.execPath, [new URL(import.meta.url).pathname, "worker", system, q, String(count)],
    { stdio: ["pipe", "pipe", "inherit"], env: { ...E, BENCH_RESULT_FILE: file } });
  const exited = new Promise((r) => c.once("exit", (code, sig) => r(code ?? sig)));
  const lines = createInterface({ input: c.stdout });
  const it = lines[Symbol.asyncIterator]();
  return {
    ready: (async () => { for (;;) { const { value } = await it.next(); if (value === "ready") return; } })(),
    go: () => c.stdin.write("go\n"),
    stop: () => c.stdin.write("stop\n"),
    result: async () => {
      const code = await exited;
      try { return JSON.parse(readFileSync(file, "utf8")); }
      catch { throw new Error(`${system} worker exited (${code}) without a result`); }
      finally { rmSync(dir, { recursive: true, force: true }); }
    },
    proc: c,
  };
}

// ---------------------------------------------------------------- process accounting
const TICK = 100;
function tree(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readFileSync(`/proc/${out[i]}/task/${out[i]}/children`, "utf8").trim().split(/\s+/))
        if (t) out.push(Number(t));
    } catch {}
  }
  return out;
}
// SERVER_PID may name several servers ("triggerd,postmaster"): their trees are summed
const servers = (pid) => String(pid).split(",").map(Number);
function cpu(pids) {   // seconds of the trees: live processes plus reaped children of the roots
  let s = 0;
  for (const pid of servers(pids)) for (const p of tree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ");
      s += Number(f[11]) + Number(f[12]) + (p === pid ? Number(f[13]) + Number(f[14]) : 0);
    } catch {}
  }
  return s / TICK;
}
function memKB(pids) {  // PSS summed over the trees (shared pages counted once)
  let kb = 0;
  for (const pid of servers(pids)) for (const p of tree(pid)) {
    try { kb += Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))[1]); } catch {}
  }
  return kb;
}
function hwmKB(pid) {
  try { return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]); } catch { return 0; }
}

// ---------------------------------------------------------------- the workload
async function pool(n, k, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(k, n) }, async () => { while (i < n) await fn(i++); }));
}
const pct = (s, p) => (s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : null);

async function benchMain(system) {
  const pid = E.SERVER_PID;
  const cpu0 = cpu(pid);
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, memKB(pid)); }, 250);
  const log = (...a) => console.error(`  [${E.BENCH_LABEL || system}]`, ...a);
  const P = await producer(system);
  const res = { system, label: E.BENCH_LABEL || system, durability: E.BENCH_DURABILITY || "", durable: E.BENCH_DURABLE === "1", pg: E.BENCH_PG === "1" };

  // 1a. single enqueues
  let t = now();
  await pool(N, INFLIGHT, () => P.one("drain", payload()));
  res.enqSingle = N / ((now() - t) / 1000);
  log(`single enqueue: ${N} in ${((now() - t) / 1000).toFixed(1)} s`);
  // 1b. batches
  if (P.batchSize) {
    t = now();
    for (let i = 0; i < N; i += P.batchSize)
      await P.many("drain", Array.from({ length: Math.min(P.batchSize, N - i) }, payload));
    res.enqBatch = N / ((now() - t) / 1000);
    res.batchSize = P.batchSize;
    log(`batch enqueue (${P.batchSize}): ${N} in ${((now() - t) / 1000).toFixed(1)} s`);
  }

  // 2. drain the jobs phase 1 queued (N, or 2N with batches) with CONC no-op workers
  const D = P.batchSize ? 2 * N : N;
  res.drained = D;
  if (system === "triggerd") {
    t = now();
    const w = spawn(E.TRIGGERD_WORKER, [String(D)], { stdio: "ignore", env: { ...E, TRIGGER_API_URL: P.url,
      TRIGGER_SECRET_KEY: E.TRIGGERD_KEY, TRIGGER_PROJECT_REF: E.TRIGGERD_PROJECT_REF,
      TRIGGER_WORKER_THREADS: String(CONC), TRIGGER_WORKER_POLL_MS: "2" } });
    await new Promise((r) => w.once("exit", r));
    res.drain = D / ((now() - t) / 1000);
  } else {
    const w = spawnWorker(system, "drain", D);
    await w.ready; w.go();
    const r = await w.result();
    res.drain = r.done / r.secs;
  }
  log(`drain: ${res.drain.toFixed(0)} jobs/s`);

  // 3. latency at a fixed rate, the workers already waiting
  const total = RATE * SECS;
  let lats = [];
  if (system === "triggerd") {
    const w = spawn(E.TRIGGERD_WORKER, [], { stdio: "ignore", env: { ...E, TRIGGER_API_URL: P.url,
      TRIGGER_SECRET_KEY: E.TRIGGERD_KEY, TRIGGER_PROJECT_REF: E.TRIGGERD_PROJECT_REF,
      TRIGGER_WORKER_THREADS: String(CONC), TRIGGER_WORKER_POLL_MS: "2" } });
    await sleep(500);
    const tag = "lat" + Date.now();
    const sent = new Map();
    const deadline = Date.now() + (SECS + LAT_WAIT) * 1000;
    await fixedRate(total, async () => { const ts = now(); const id = await P.one("lat", payload(), [tag]); sent.set(id, ts); });
    let runs = [];
    for (;;) {
      runs = await listRuns(P, tag);
      if (runs.length >= total && runs.every((r) => r.startedAt)) break;
      if (Date.now() > deadline) break;
      await sleep(3000);   // listing every run loads the server too: poll sparingly
    }
    w.kill();
    lats = runs.filter((r) => r.startedAt && sent.has(r.id)).map((r) => new Date(r.startedAt) - sent.get(r.id));
  } else {
    const w = spawnWorker(system, "lat", total);
    await w.ready; w.go();
    await sleep(500);
    // the wait runs from the last scheduled enqueue, even if the enqueues themselves lag
    const timer = setTimeout(() => w.stop(), (SECS + LAT_WAIT) * 1000);
    await fixedRate(total, () => P.one("lat", payload()));
    const r = await w.result();
    clearTimeout(timer);
    lats = r.lats;
  }
  lats.sort((a, b) => a - b);
  res.latN = lats.length; res.latTotal = total;
  // jobs not started by the end of the wait count as slower than any that started: a
  // percentile that falls among them is reported as null ("not started")
  const at = (p) => { const i = Math.min(total - 1, Math.floor((p / 100) * total)); return i < lats.length ? lats[i] : null; };
  res.p50 = at(50); res.p99 = at(99); res.max = lats.length === total ? lats[total - 1] : null;
  res.latWait = SECS + LAT_WAIT;
  log(`latency at ${RATE}/s: ${lats.length}/${total} started, p50 ${res.p50?.toFixed(1) ?? "-"} p99 ${res.p99?.toFixed(1) ?? "-"} max ${res.max?.toFixed(1) ?? "-"} ms`);

  await P.close();
  clearInterval(sampler);
  res.cpu = cpu(pid) - cpu0;
  res.rssMB = Math.max(peak, E.BENCH_MULTIPROC ? 0 : hwmKB(Number(pid))) / 1024;
  console.log(JSON.stringify(res));
  process.exit(0);
}

async function fixedRate(total, fn) {
  const t0 = Date.now();
  let sent = 0;
  const pending = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - t0) * RATE) / 1000) + 1);
    while (sent < due) { pending.push(fn().catch((e) => console.error(e.message))); sent++; }
    await sleep(1);
  }
  await Promise.all(pending);
}

async function listRuns(P, tag) {
  const out = [];
  let after = "";
  for (;;) {
    const r = await fetch(`${P.url}/api/v1/runs?page[size]=100&filter[tag]=${tag}${after}`, { headers: P.H });
    const j = await r.json();
    out.push(...j.data);
    if (!j.pagination?.next) return out;
    after = `&page[after]=${j.pagination.next}`;
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "worker") await workerMain(...rest);
else await benchMain(rest[0]);
