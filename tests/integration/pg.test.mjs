// tests/integration/pg.test.mjs - the store on PostgreSQL (docs/store.md),
// in a cluster of its own: PostgreSQL stopped and restarted under a running
// triggerd (requests fail fast with a 5xx meanwhile, the node recovers by
// itself, nothing acknowledged is lost), the same with two nodes on one
// database (each run then handed out once), and nodes started together on an
// empty database (the migrations and the bootstrap happen once).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { startTriggerd, api, triggerId, retrieve, waitFor, sleep, uid } from "./helpers.mjs";
import { FakeWorker, drainCounting } from "./worker.mjs";
import { startCluster } from "../lib/pg.mjs";

let cluster;
let n = 0;
const dbUrl = () => {
  const db = `pgtest_${process.pid}_${++n}`;
  const psql = spawnSync(join(cluster.bin, "psql"), ["-X", "-q", "-h", cluster.dir, "-p",
    String(cluster.port), "-U", "postgres", "-d", "postgres", "-c", `CREATE DATABASE ${db}`]);
  assert.equal(psql.status, 0, String(psql.stderr));
  return cluster.url(db);
};

before(async () => {
  cluster = await startCluster();
});
after(() => cluster?.stop());

const letters = (n) => Array.from(randomBytes(n), (b) => "abcdefghijkmnopqrstuvwxyz"[b % 25]).join("");

async function start(url, opts = {}) {
  return startTriggerd({ ...opts, args: ["--database-url", url, ...(opts.args ?? [])] });
}

function psql(url, sql) {
  const db = url.match(/^postgresql:\/\/\/([^?]+)/)[1];
  const r = spawnSync(join(cluster.bin, "psql"), ["-X", "-q", "-At", "-h", cluster.dir, "-p",
    String(cluster.port), "-U", "postgres", "-d", db, "-c", sql], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("PostgreSQL stopped under a running node: 5xx fast meanwhile, recovery by itself, nothing acknowledged lost", async () => {
  const srv = await start(dbUrl());
  try {
    const task = uid("pgdown-");
    const before = [];
    for (let i = 0; i < 10; i++) before.push(await triggerId(srv, task, {}, { payload: { i } }));
    cluster.stopServer("fast");
    const t0 = Date.now();
    const down = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: {} } });
    assert.ok(down.status >= 500, `trigger while down: ${down.status} ${down.text}`);
    const read = await api(srv, "GET", `/api/v3/runs/${before[0]}`);
    assert.ok(read.status >= 500, `read while down: ${read.status}`);
    assert.ok(Date.now() - t0 < 5000, "requests while down fail fast");
    cluster.startServer();
    await waitFor(async () => (await api(srv, "GET", `/api/v3/runs/${before[0]}`)).status === 200,
      { timeout: 15000, what: "reads work again" });
    // the first flushes after a reconnect fail on purpose (they cannot vouch
    // for commits made before it); then triggers go through again
    let after;
    await waitFor(async () => {
      const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: {} } });
      assert.ok(r.status === 200 || r.status >= 500, r.text);
      if (r.status === 200) after = r.json.id;
      return r.status === 200;
    }, { timeout: 15000, what: "triggers work again" });
    for (const id of [...before, after]) assert.equal((await retrieve(srv, id)).id, id);
  } finally {
    await srv.stop();
  }
});

test("PostgreSQL restarted under load: every acknowledged trigger is there afterwards", async () => {
  const srv = await start(dbUrl());
  try {
    const task = uid("pgload-");
    const acked = [];
    let failed = 0, stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: {} } })
          .catch(() => ({ status: 0 }));
        if (r.status === 200) acked.push(r.json.id);
        else {
          assert.ok(r.status >= 500, `a refused trigger is a 5xx: ${r.status} ${r.text}`);
          failed++;
          await sleep(20);
        }
      }
    })();
    await sleep(300);
    cluster.stopServer("immediate");
    await sleep(300);
    cluster.startServer();
    await waitFor(() => acked.length > 0 && failed > 0, { what: "load on both sides" });
    const mark = acked.length;
    await waitFor(() => acked.length > mark + 5, { timeout: 15000, what: "triggers after the restart" });
    stop = true;
    await load;
    for (const id of acked) assert.equal((await retrieve(srv, id)).id, id);
  } finally {
    await srv.stop();
  }
});

test("PostgreSQL restarted under load with two nodes on one database: both recover, every acknowledged trigger is there, each run is handed out once", async () => {
  const url = dbUrl();
  const dataDir = mkdtempSync(join(tmpdir(), "triggerd-pg2-"));
  const shared = { dataDir, keepData: true, single: true, startTimeout: 30000,
    keys: { dev: "tr_dev_" + letters(20), stg: "tr_stg_" + letters(20), prod: "tr_prod_" + letters(20) },
    projectRef: "proj_" + letters(20), pat: "tr_pat_" + letters(40),
    args: ["--database-url", url] };
  const nodes = await Promise.all([startTriggerd(shared), startTriggerd(shared)]);
  try {
    const task = uid("pg2load-");
    const [wa, wb] = nodes.map((s) => new FakeWorker(s));
    await wa.register([{ id: task }]);
    wb.workers = wa.workers;
    wb.current = wa.current;
    const acked = [[], []];
    let failed = [0, 0], slowest = 0, stop = false;
    const load = nodes.map(async (srv, k) => {
      while (!stop) {
        const t0 = Date.now();
        const r = await api(srv, "POST", `/api/v1/tasks/${task}/trigger`, { body: { payload: { k } } });
        slowest = Math.max(slowest, Date.now() - t0);
        if (r.status === 200) acked[k].push(r.json.id);
        else {
          assert.ok(r.status >= 500 && typeof r.json?.error === "string",
            `a refused trigger is a 5xx with an error: ${r.status} ${r.text}`);
          failed[k]++;
          await sleep(20);
        }
        await sleep(5);
      }
    });
    await waitFor(() => acked[0].length > 5 && acked[1].length > 5, { what: "load on both nodes" });
    cluster.stopServer("immediate");
    await sleep(300);
    cluster.startServer();
    await waitFor(() => failed[0] > 0 && failed[1] > 0, { what: "both nodes saw the outage" });
    const mark = acked.map((a) => a.length);
    await waitFor(() => acked[0].length > mark[0] + 5 && acked[1].length > mark[1] + 5,
      { timeout: 20000, what: "both nodes take triggers again" });
    stop = true;
    await Promise.all(load);
    assert.ok(slowest < 10000, `no request hung through the outage (slowest ${slowest} ms)`);
    const all = [...acked[0], ...acked[1]];
    // every acknowledged trigger is there, read through the other node
    for (const [k, ids] of acked.entries())
      for (const id of ids) assert.equal((await retrieve(nodes[1 - k], id)).id, id);
    // drained through both nodes: each run handed out exactly once
    const got = await drainCounting([wa, wb, wa, wb], (g) => all.every((id) => g.has(id)), { timeout: 60000 });
    assert.deepEqual([...got].filter(([, n]) => n !== 1), [], "a run handed out twice");
    for (const id of all) assert.equal(got.get(id), 1, `run ${id} handed out ${got.get(id) ?? 0} times`);
    // (a trigger refused with a 5xx at the outage may still have been
    // committed, as after any ambiguous failure: such runs are drained too)
    assert.ok(got.size >= all.length);
  } finally {
    for (const s of nodes) await s.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("nodes started together on an empty database migrate and bootstrap it once", async () => {
  const url = dbUrl();
  const env = { TRIGGERD_PROJECT_REF: "proj_" + "x".repeat(20) };
  const nodes = await Promise.all([0, 1, 2].map(() => start(url, { env })));
  try {
    assert.equal(psql(url, "SELECT COUNT(*) FROM projects"), "1");
    assert.equal(psql(url, "SELECT COUNT(*) FROM envs"), "3");
    assert.equal(psql(url, "SELECT COUNT(*) = COUNT(DISTINCT version) FROM schema_migrations"), "t");
    const key = psql(url, "SELECT api_key FROM envs WHERE slug='dev'");
    for (const srv of nodes) {
      const r = await api(srv, "GET", "/api/v1/runs", { key });
      assert.equal(r.status, 200, r.text);
    }
  } finally {
    await Promise.all(nodes.map((s) => s.stop()));
  }
});

test("a restart of the node on the same database keeps its runs (and applies no migration twice)", async () => {
  const url = dbUrl();
  const srv = await start(url);
  try {
    const id = await triggerId(srv, uid("pgre-"), {}, { payload: { x: 1 } });
    const versions = psql(url, "SELECT COUNT(*) FROM schema_migrations");
    await srv.restart();
    assert.equal((await retrieve(srv, id)).id, id);
    assert.equal(psql(url, "SELECT COUNT(*) FROM schema_migrations"), versions);
  } finally {
    await srv.stop();
  }
});
