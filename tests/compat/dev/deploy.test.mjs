// tests/compat/dev/deploy.test.mjs - the real `trigger.dev deploy
// --native-build-server` CLI (4.5.0, or 4.8.3 with TRIGGER_SDK=latest)
// deploys a small project to triggerd's prod environment (docs/deploy.md):
// the archive is uploaded, triggerd builds and indexes it in a child
// process, the deployment ends DEPLOYED and promoted, and a run triggered
// with the prod key (no dev CLI anywhere) completes on a worker process
// triggerd supervises, with the deployed version. A build that fails ends
// FAILED with its log; a plain `deploy` (Docker) is refused with a message
// naming --native-build-server; a SIGKILLed worker's run is retried.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTriggerd } from "../../lib/triggerd.mjs";
import { FIXTURE, CLI_VERSION, FINAL, latest, stripAnsi } from "./cli.mjs";
import { sleep } from "../helpers.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(FIXTURE, "node_modules/trigger.dev/dist/esm/index.js");

const TASKS = `
import { task, wait } from "@trigger.dev/sdk";
export const hello = task({
  id: "deploy-hello",
  run: async (payload: { name: string }, { ctx }) => ({
    greeting: "hello " + payload.name,
    version: ctx.run.version,
    envType: ctx.environment.type,
    attempt: ctx.attempt.number,
  }),
});
export const child = task({
  id: "deploy-child",
  run: async (p: { n: number }, { ctx }) => ({ doubled: p.n * 2, version: ctx.run.version }),
});
export const parent = task({
  id: "deploy-parent",
  run: async (p: { n: number }) => {
    const pid = process.pid; // no checkpoints: the waits keep this process
    await wait.for({ seconds: 1 });
    const r = await child.triggerAndWait({ n: p.n });
    const b = await child.batchTriggerAndWait([{ payload: { n: 1 } }, { payload: { n: 2 } }]);
    const batch = b.runs.map((x: any) => (x.ok ? x.output.doubled : null));
    return { child: r.ok ? r.output : null, batch, samePid: process.pid === pid };
  },
});
export const relay = task({
  id: "deploy-relay",
  run: async (p: { token: string }, { ctx }) => {
    await wait.forToken(p.token);
    const r = await child.triggerAndWait({ n: 5 });
    return { version: ctx.run.version, child: r.ok ? r.output : null };
  },
});
export const capped = task({
  id: "deploy-capped",
  maxDuration: 5,
  retry: { maxAttempts: 1 },
  run: async () => {
    await new Promise((r) => setTimeout(r, 30_000));
    return { late: true };
  },
});
export const chain: any = task({
  id: "deploy-chain",
  run: async (p: { depth: number }): Promise<{ depth: number }> => {
    if (p.depth === 0) return { depth: 0 };
    const r = await chain.triggerAndWait({ depth: p.depth - 1 });
    return { depth: r.ok ? r.output.depth + 1 : -1 };
  },
});
export const hog = task({
  id: "deploy-hog",
  machine: "micro",
  retry: { maxAttempts: 2, minTimeoutInMs: 100, maxTimeoutInMs: 200, outOfMemory: { machine: "small-1x" } },
  run: async (p: { always?: boolean }, { ctx }) => {
    if (ctx.machine?.name !== "micro" && !p.always) return { machine: ctx.machine?.name, attempt: ctx.attempt.number };
    const keep: number[][] = [];
    for (;;) keep.push(new Array(1e7).fill(Math.random())); // 80 MB a step: the heap limit in a second
  },
});
export const envTask = task({
  id: "deploy-env",
  run: async () => ({ greeting: process.env.DEPLOY_GREETING ?? null, envType: process.env.TRIGGER_API_URL ? "set" : "unset" }),
});
export const slow = task({
  id: "deploy-slow",
  retry: { maxAttempts: 3, minTimeoutInMs: 100, maxTimeoutInMs: 200 },
  run: async (p: { ms: number }, { ctx }) => {
    if (ctx.attempt.number === 1) await new Promise((r) => setTimeout(r, p.ms));
    return { attempt: ctx.attempt.number };
  },
});
export const flaky = task({
  id: "deploy-flaky",
  retry: { maxAttempts: 3, minTimeoutInMs: 100, maxTimeoutInMs: 200 },
  run: async (_p: {}, { ctx }) => {
    if (ctx.attempt.number < 3) throw new Error("boom on attempt " + ctx.attempt.number);
    return { attempt: ctx.attempt.number, pid: process.pid };
  },
});
`;

/** A project dir: the fixture's config and package files, our tasks, no node_modules (the server installs). */
function project(tasks) {
  const dir = join(mkdtempSync(join(tmpdir(), "triggerd-deploy-")), "project");
  mkdirSync(join(dir, "src/trigger"), { recursive: true });
  cpSync(join(here, "fixture/trigger.config.ts"), join(dir, "trigger.config.ts"));
  cpSync(join(FIXTURE, "package.json"), join(dir, "package.json"));
  cpSync(join(FIXTURE, "package-lock.json"), join(dir, "package-lock.json"));
  writeFileSync(join(dir, "src/trigger/tasks.ts"), tasks);
  // the CLI loads the config locally; the archive leaves node_modules out
  symlinkSync(join(FIXTURE, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

function deploy(srv, dir, args = ["--native-build-server"]) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("TRIGGER_") && !k.startsWith("OTEL_")),
  );
  Object.assign(env, {
    TRIGGER_ACCESS_TOKEN: srv.pat,
    TRIGGER_API_URL: srv.url,
    TRIGGER_PROJECT_REF: srv.projectRef,
    XDG_CONFIG_HOME: join(dirname(dir), "config"),
    FORCE_COLOR: "0",
    NO_COLOR: "1",
    CI: "1",
  });
  return new Promise((resolve) => {
    // the CLI resolves its own packages from the fixture's node_modules
    const envArgs = args.includes("--env") ? [] : ["--env", "prod"];
    const p = spawn(process.execPath, [CLI, "deploy", "--skip-update-check", ...envArgs, ...args, dir], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("exit", (code) => resolve({ code, out: stripAnsi(out) }));
  });
}

async function api(srv, method, path, body, key = srv.keys.prod) {
  const res = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function waitDeployment(srv, id, timeout = 600_000, key = srv.keys.prod) {
  const deadline = Date.now() + timeout;
  let d;
  while (Date.now() < deadline) {
    d = (await api(srv, "GET", `/api/v1/deployments/${id}`, undefined, key)).body;
    if (["DEPLOYED", "FAILED", "CANCELED", "TIMED_OUT"].includes(d?.status)) return d;
    await sleep(500);
  }
  throw new Error(`deployment ${id} is still ${d?.status}`);
}

async function waitRun(srv, id, timeout = 60_000) {
  const deadline = Date.now() + timeout;
  let r;
  while (Date.now() < deadline) {
    r = (await api(srv, "GET", `/api/v3/runs/${id}`)).body;
    if (FINAL.has(r?.status)) return r;
    await sleep(200);
  }
  throw new Error(`run ${id} is still ${r?.status}`);
}

let srv;
const dirs = [];
// The 4.8 lane gives the supervisor a plain directory as its cgroup v2 tree
// (TRIGGERD_CGROUP): the files it writes show the limits, which a plain
// directory does not enforce; the 4.5 lane has none, so RLIMIT_DATA.
const cgroupDir = latest ? mkdtempSync(join(tmpdir(), "triggerd-cgroup-")) : null;
before(async () => {
  const env = { TRIGGERD_HEARTBEAT_TIMEOUT_MS: "10000", TRIGGERD_DEPLOY_POOL: "2" };
  if (cgroupDir) env.TRIGGERD_CGROUP = cgroupDir;
  srv = await startTriggerd({ env });
  console.log(`# trigger.dev ${CLI_VERSION} deploy against ${srv.url}`);
  // an environment variable set through the API before the deploy reaches the deployed runs
  const ev = await api(srv, "POST", `/api/v1/projects/${srv.projectRef}/envvars/prod`, { name: "DEPLOY_GREETING", value: "from the API" });
  assert.equal(ev.status, 200, JSON.stringify(ev.body));
});
after(async () => {
  await srv?.stop();
  for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
  if (cgroupDir) rmSync(cgroupDir, { recursive: true, force: true });
});

/** triggerd's worker processes: pid -> their TRIGGER_MACHINE_MEMORY (GB). */
function workers() {
  const out = new Map();
  const pids = execSync(`pgrep -P ${srv.proc.pid} || true`).toString().trim().split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const mem = env.find((e) => e.startsWith("TRIGGER_MACHINE_MEMORY="));
      if (mem && env.some((e) => e.startsWith("TRIGGER_RUNNER_ID="))) out.set(Number(pid), Number(mem.split("=")[1]));
    } catch {} // gone meanwhile
  }
  return out;
}

let deployed;

test("deploy --native-build-server builds on triggerd, ends DEPLOYED and promoted", { timeout: 700_000 }, async () => {
  const dir = project(TASKS);
  dirs.push(dir);
  const r = await deploy(srv, dir);
  assert.equal(r.code, 0, r.out);
  const id = r.out.match(/deployments\/(\w+)/)?.[1];
  const version = r.out.match(/Version (\d{8}\.\d+)/)?.[1];
  assert.match(version ?? "", /^\d{8}\.1$/, r.out);
  const list = (await api(srv, "GET", "/api/v1/deployments")).body;
  assert.equal(list.data.length, 1);
  const d = await waitDeployment(srv, list.data[0].id);
  assert.equal(d.status, "DEPLOYED", JSON.stringify(d.errorData ?? d));
  assert.equal(d.version, version);
  assert.equal(d.shortCode, id);
  assert.deepEqual(d.worker.tasks.map((t) => t.id).sort(), ["deploy-capped", "deploy-chain", "deploy-child", "deploy-env", "deploy-flaky", "deploy-hello", "deploy-hog", "deploy-parent", "deploy-relay", "deploy-slow"]);
  const cur = await api(srv, "GET", "/api/v1/deployments/current");
  assert.equal(cur.status, 200);
  assert.equal(cur.body.version, version);
  assert.equal(cur.body.status, "DEPLOYED");
  deployed = d;
});

test("machine presets are the worker processes' limits: a cgroup per process slot (memory.max, cpu.max) or RLIMIT_DATA", { timeout: 60_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  // the default pool (small-1x) and the micro pool (deploy-hog), two processes each
  let w;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    w = workers();
    if ([...w.values()].filter((m) => m === 0.25).length >= 2 && [...w.values()].filter((m) => m === 0.5).length >= 2) break;
    await sleep(200);
  }
  assert.ok([...w.values()].filter((m) => m === 0.25).length >= 2, JSON.stringify([...w]));
  if (cgroupDir) {
    const slots = readdirSync(cgroupDir).filter((n) => n.startsWith(deployed.id));
    const micro = slots.filter((n) => n.includes("-micro-"));
    assert.equal(micro.length, 2, slots.join(" "));
    for (const n of micro) {
      assert.equal(readFileSync(join(cgroupDir, n, "memory.max"), "utf8"), String(0.25 * 2 ** 30));
      assert.equal(readFileSync(join(cgroupDir, n, "cpu.max"), "utf8"), "25000 100000");
      assert.equal(readFileSync(join(cgroupDir, n, "memory.swap.max"), "utf8"), "0");
    }
    const small = slots.filter((n) => n.includes("-small-1x-"));
    assert.equal(readFileSync(join(cgroupDir, small[0], "cpu.max"), "utf8"), "50000 100000");
    // every worker process joined its slot before it exec'd node
    const joined = new Set(slots.map((n) => Number(readFileSync(join(cgroupDir, n, "cgroup.procs"), "utf8"))));
    for (const pid of w.keys()) assert.ok(joined.has(pid), `${pid} in ${[...joined]}`);
    assert.ok(existsSync(join(cgroupDir, "cgroup.subtree_control")));
  } else {
    for (const [pid, mem] of w) {
      const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max data size"));
      assert.equal(Number(line.split(/\s+/)[3]), (mem + 0.5) * 2 ** 30, line);
    }
  }
});

test("a prod run completes on a triggerd-supervised worker with the deployed version", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const t0 = Date.now();
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "prod" } });
  assert.equal(trig.status, 200, JSON.stringify(trig.body));
  const run = await waitRun(srv, trig.body.id);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output, { greeting: "hello prod", version: deployed.version, envType: "PRODUCTION", attempt: 1 });
  assert.equal(run.version, deployed.version);
  console.log(`# first prod run: ${Date.now() - t0} ms trigger to completed`);
});

test("a task that throws is retried on the deployed worker (RETRY_IMMEDIATELY: in the same process) and succeeds on attempt 3", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-flaky/trigger", { payload: {} });
  const run = await waitRun(srv, trig.body.id);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.equal(run.output.attempt, 3, JSON.stringify(run.output));
  assert.equal(run.attemptCount, 3);
});

test("env vars set through the API reach deployed runs", { timeout: 60_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-env/trigger", { payload: {} });
  const run = await waitRun(srv, trig.body.id);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output, { greeting: "from the API", envType: "set" });
});

test("triggerAndWait, batchTriggerAndWait and wait.for work on deployed workers; the run resumes in the process it waited in", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-parent/trigger", { payload: { n: 21 } });
  const run = await waitRun(srv, trig.body.id);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output, { child: { doubled: 42, version: deployed.version }, batch: [2, 4], samePid: true });
  // the worker processes joined socket.io /workload and were told of the wait's end
  const push = (await api(srv, "GET", "/engine/v1/dev/push")).body;
  assert.ok(push.workloadConnects >= 1, JSON.stringify(push));
  assert.ok(push.notifies >= 1, JSON.stringify(push));
});

test("a triggerAndWait chain deeper than the pool: the pool grows (no checkpoints, waits keep their process)", { timeout: 120_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-chain/trigger", { payload: { depth: 4 } });
  const run = await waitRun(srv, trig.body.id, 90_000);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual(run.output, { depth: 4 });
});

test("a worker SIGKILLed mid-run: the run is retried on a restarted worker", { timeout: 120_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-slow/trigger", { payload: { ms: 60_000 } });
  let r;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    r = (await api(srv, "GET", `/api/v3/runs/${trig.body.id}`)).body;
    if (r.status === "EXECUTING") break;
    await sleep(100);
  }
  assert.equal(r.status, "EXECUTING");
  await sleep(500);
  // the worker process groups are triggerd's children running managed-run-controller
  const pids = execSync(`pgrep -f -P ${srv.proc.pid} managed-run-controller || true`).toString().trim().split(/\s+/).filter(Boolean);
  assert.ok(pids.length >= 1, "worker processes are running");
  for (const pid of pids) try { process.kill(-Number(pid), "SIGKILL"); } catch {}
  const done = await waitRun(srv, trig.body.id, 90_000);
  assert.equal(done.status, "COMPLETED", JSON.stringify(done));
  assert.deepEqual(done.output, { attempt: 2 });
});

test("a build that fails ends FAILED with its log; the current version keeps serving", { timeout: 700_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const dir = project(TASKS + "\nexport const broken = task({ id: 'x', run: async () => { return ( }) });\n");
  dirs.push(dir);
  const r = await deploy(srv, dir);
  assert.equal(r.code, 0, r.out); // the CLI only queues it (no log stream)
  const list = (await api(srv, "GET", "/api/v1/deployments")).body;
  assert.equal(list.data.length, 2);
  const d = await waitDeployment(srv, list.data[0].id);
  assert.equal(d.status, "FAILED");
  assert.match(d.errorData.message, /build failed/i);
  assert.ok(d.errorData.stderr.length > 0);
  const cur = await api(srv, "GET", "/api/v1/deployments/current");
  assert.equal(cur.body.version, deployed.version);
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "again" } });
  const run = await waitRun(srv, trig.body.id);
  assert.equal(run.status, "COMPLETED");
  assert.equal(run.output.version, deployed.version);
});

test("--skip-promotion, then promote: new runs move to the new version; a waiting run of the old one, and the child it triggers after, finish on the old one", { timeout: 700_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const token = (await api(srv, "POST", "/api/v1/waitpoints/tokens", {})).body;
  const old = await api(srv, "POST", "/api/v1/tasks/deploy-relay/trigger", { payload: { token: token.id } });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const r = (await api(srv, "GET", `/api/v3/runs/${old.body.id}`)).body;
    if (r.status === "WAITING" || r.status === "WAITING_FOR_DEPLOY" || r.status === "EXECUTING") break;
    await sleep(200);
  }
  const dir = project(TASKS.replace('"hello "', '"hi "'));
  dirs.push(dir);
  const r = await deploy(srv, dir, ["--native-build-server", "--skip-promotion"]);
  assert.equal(r.code, 0, r.out);
  const v2 = r.out.match(/Version (\d{8}\.\d+)/)?.[1];
  const list = (await api(srv, "GET", "/api/v1/deployments")).body;
  const d2 = await waitDeployment(srv, list.data[0].id);
  assert.equal(d2.status, "DEPLOYED", JSON.stringify(d2.errorData ?? d2));
  assert.equal(d2.version, v2);
  assert.equal((await api(srv, "GET", "/api/v1/deployments/current")).body.version, deployed.version);
  const before = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "x" } });
  const br = await waitRun(srv, before.body.id);
  assert.equal(br.status, "COMPLETED", JSON.stringify(br));
  assert.equal(br.output.version, deployed.version);
  const pr = await api(srv, "POST", `/api/v1/deployments/${v2}/promote`, {});
  assert.equal(pr.status, 200, JSON.stringify(pr.body));
  assert.equal((await api(srv, "GET", "/api/v1/deployments/current")).body.version, v2);
  const after = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "y" } });
  const ar = await waitRun(srv, after.body.id);
  assert.equal(ar.status, "COMPLETED", JSON.stringify(ar));
  assert.deepEqual([ar.output.greeting, ar.output.version], ["hi y", v2]);
  // the old version's waiting run is still on its (draining) process
  await api(srv, "POST", `/api/v1/waitpoints/tokens/${token.id}/complete`, { data: { go: true } });
  const or = await waitRun(srv, old.body.id);
  assert.equal(or.status, "COMPLETED", JSON.stringify(or));
  assert.deepEqual(or.output, { version: deployed.version, child: { doubled: 10, version: deployed.version } });
  deployed = d2;
});

test("cancel kills a run on a deployed worker; the pool goes on", { timeout: 120_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-slow/trigger", { payload: { ms: 60_000 } });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await api(srv, "GET", `/api/v3/runs/${trig.body.id}`)).body.status === "EXECUTING") break;
    await sleep(100);
  }
  const c = await api(srv, "POST", `/api/v2/runs/${trig.body.id}/cancel`);
  assert.equal(c.status, 200);
  const r = await waitRun(srv, trig.body.id);
  assert.equal(r.status, "CANCELED");
  const next = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "z" } });
  assert.equal((await waitRun(srv, next.body.id)).status, "COMPLETED");
});

test("maxDuration ends a deployed run TIMED_OUT", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-capped/trigger", { payload: {} });
  const r = await waitRun(srv, trig.body.id, 60_000);
  assert.equal(r.status, "TIMED_OUT", JSON.stringify(r));
});

test("a run over its machine's memory is retried on retry.outOfMemory.machine; out of memory there too, it ends CRASHED, not the server", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hog/trigger", { payload: {} });
  const up = await waitRun(srv, trig.body.id, 60_000);
  assert.equal(up.status, "COMPLETED", JSON.stringify(up));
  assert.deepEqual(up.output, { machine: "small-1x", attempt: 2 });
  // on the outOfMemory machine already (given at trigger time): not retried
  const big = await api(srv, "POST", "/api/v1/tasks/deploy-hog/trigger", { payload: { always: true }, options: { machine: "small-1x" } });
  assert.equal(big.status, 200, JSON.stringify(big.body));
  const r = await waitRun(srv, big.body.id, 60_000);
  assert.equal(r.status, "CRASHED", JSON.stringify(r));
  assert.match(JSON.stringify(r.error), /OOM|memory/i);
  assert.equal(r.attemptCount, 1, JSON.stringify(r));
  const next = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "after-oom" } });
  assert.equal((await waitRun(srv, next.body.id)).status, "COMPLETED");
});

test("triggerd restarted while a deployed run executes: the run is retried, the pool comes back", { timeout: 120_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-slow/trigger", { payload: { ms: 60_000 } });
  const deadline = Date.now() + 30_000;
  let st;
  while (Date.now() < deadline) {
    st = (await api(srv, "GET", `/api/v3/runs/${trig.body.id}`)).body;
    if (st.status === "EXECUTING" && st.attemptCount >= 1) break;
    await sleep(100);
  }
  assert.equal(st.status, "EXECUTING", JSON.stringify(st));
  await sleep(1000); // in the task's 60 s sleep
  await srv.restart();
  const r = await waitRun(srv, trig.body.id, 90_000);
  assert.equal(r.status, "COMPLETED", JSON.stringify(r));
  assert.deepEqual(r.output, { attempt: 2 });
  const next = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "back" } });
  assert.equal((await waitRun(srv, next.body.id)).output.version, deployed.version);
});

test("warm latency: trigger to started and to completed on the pool", { timeout: 120_000 }, async () => {
  assert.ok(deployed, "needs the deployment");
  const start = [], done = [];
  for (let i = 0; i < 10; i++) {
    const t0 = Date.now();
    const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "n" + i } });
    const r = await waitRun(srv, trig.body.id);
    assert.equal(r.status, "COMPLETED");
    done.push(Date.now() - t0);
    start.push(Date.parse(r.startedAt) - Date.parse(r.createdAt));
  }
  const p50 = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  console.log(`# warm deployed runs: trigger->startedAt p50 ${p50(start)} ms, trigger->COMPLETED (polled) p50 ${p50(done)} ms`);
});

test("deploy --dry-run bundles locally and deploys nothing", { timeout: 300_000 }, async () => {
  const dir = project(TASKS);
  dirs.push(dir);
  const before = (await api(srv, "GET", "/api/v1/deployments")).body.data.length;
  const r = await deploy(srv, dir, ["--dry-run", "--log-level", "info"]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Dry run complete/, r.out);
  assert.equal((await api(srv, "GET", "/api/v1/deployments")).body.data.length, before);
});

// one lane is enough for a second environment (each deploy is a build)
test("staging deploys too: its own version and runs with the staging key", { timeout: 700_000, skip: !latest && "the 4.8 lane deploys staging" }, async () => {
  const dir = project(TASKS.replace('"hello "', '"staging "'));
  dirs.push(dir);
  const r = await deploy(srv, dir, ["--native-build-server", "--env", "staging"]);
  assert.equal(r.code, 0, r.out);
  const list = (await api(srv, "GET", "/api/v1/deployments", undefined, srv.keys.stg)).body;
  assert.equal(list.data.length, 1);
  const d = await waitDeployment(srv, list.data[0].id, undefined, srv.keys.stg);
  assert.equal(d.status, "DEPLOYED", JSON.stringify(d.errorData ?? d));
  assert.match(d.version, /^\d{8}\.1$/);
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "s" } }, srv.keys.stg);
  const deadline = Date.now() + 60_000;
  let run;
  while (Date.now() < deadline) {
    run = (await api(srv, "GET", `/api/v3/runs/${trig.body.id}`, undefined, srv.keys.stg)).body;
    if (FINAL.has(run?.status)) break;
    await sleep(200);
  }
  assert.equal(run.status, "COMPLETED", JSON.stringify(run));
  assert.deepEqual([run.output.greeting, run.output.envType, run.output.version], ["staging s", "STAGING", d.version]);
});

test("plain deploy: 4.5 is refused naming --native-build-server, 4.8 asks deploy-settings and builds natively", { timeout: 700_000 }, async () => {
  const dir = project(TASKS.replace('"hello "', '"plain "'));
  dirs.push(dir);
  const r = await deploy(srv, dir, []);
  if (!latest) {
    assert.notEqual(r.code, 0);
    assert.match(r.out, /--native-build-server/, r.out);
    return;
  }
  assert.equal(r.code, 0, r.out);
  const list = (await api(srv, "GET", "/api/v1/deployments")).body;
  const d = await waitDeployment(srv, list.data[0].id);
  assert.equal(d.status, "DEPLOYED", JSON.stringify(d.errorData ?? d));
});

test("the dashboard promotes an older deployment (session cookie + CSRF header), and new runs move to it", { timeout: 90_000 }, async () => {
  assert.ok(deployed, "needs the deployments");
  const login = await fetch(`${srv.url}/login`, {
    method: "POST", redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `token=${srv.pat}`,
  });
  assert.equal(login.status, 303);
  const cookie = login.headers.get("set-cookie").split(";")[0];
  const { csrf } = await (await fetch(`${srv.url}/dashboard/api/session`, { headers: { cookie } })).json();
  const dash = (method, path, headers = {}) => fetch(`${srv.url}/dashboard/api/env/prod${path}`, {
    method, headers: { cookie, "content-type": "application/json", ...headers }, body: method === "POST" ? "{}" : undefined,
  });
  const list = await (await dash("GET", "/api/v1/deployments")).json();
  const current = await (await dash("GET", "/api/v1/deployments/current")).json();
  const older = list.data.find((d) => d.status === "DEPLOYED" && d.version !== current.version);
  assert.ok(older, `an older DEPLOYED version among ${JSON.stringify(list.data.map((d) => [d.version, d.status]))}`);
  const refused = await dash("POST", `/api/v1/deployments/${older.version}/promote`);
  assert.equal(refused.status, 403, "no CSRF header, no promotion");
  assert.equal((await api(srv, "GET", "/api/v1/deployments/current")).body.version, current.version);
  const pr = await dash("POST", `/api/v1/deployments/${older.version}/promote`, { "x-csrf-token": csrf });
  assert.equal(pr.status, 200, await pr.text());
  assert.equal((await api(srv, "GET", "/api/v1/deployments/current")).body.version, older.version);
  const trig = await api(srv, "POST", "/api/v1/tasks/deploy-hello/trigger", { payload: { name: "dash" } });
  const r = await waitRun(srv, trig.body.id);
  assert.equal(r.status, "COMPLETED", JSON.stringify(r));
  assert.equal(r.output.version, older.version);
});
