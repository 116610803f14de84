// bench/deploy-latency.mjs - deployed workers' latency (docs/deploy.md):
// starts triggerd, deploys a one-task project with the real CLI
// (--native-build-server), then measures on the warm pool: trigger ->
// attempt start (the run's createdAt -> startedAt, server clock) and
// trigger -> COMPLETED (client, polled every 5 ms) over N sequential no-op
// runs, and no-op runs/s for a burst of B triggered at once.
//   node bench/deploy-latency.mjs [N=30] [B=100] [keepalive=1]
// keepalive=1 builds the project with processKeepAlive (the task process
// is reused between runs); 0 forks one per run, the platform's default.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startTriggerd } from "../tests/lib/triggerd.mjs";
import { FIXTURE, CLI_VERSION } from "../tests/compat/dev/cli.mjs";

const N = Number(process.argv[2] ?? 30), B = Number(process.argv[3] ?? 100);
const keepAlive = (process.argv[4] ?? "1") === "1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

const srv = await startTriggerd({ env: { TRIGGERD_DEPLOY_POOL: "4" } });
const dir = join(mkdtempSync(join(tmpdir(), "triggerd-bench-deploy-")), "project");
mkdirSync(join(dir, "src/trigger"), { recursive: true });
writeFileSync(join(dir, "trigger.config.ts"), `import { defineConfig } from "@trigger.dev/sdk";
export default defineConfig({ project: process.env.TRIGGER_PROJECT_REF!, dirs: ["./src/trigger"], maxDuration: 60,
  processKeepAlive: ${keepAlive}, retries: { default: { maxAttempts: 1 } } });\n`);
writeFileSync(join(dir, "src/trigger/noop.ts"), `import { task } from "@trigger.dev/sdk";
export const noop = task({ id: "noop", run: async () => ({ ok: true }) });\n`);
cpSync(join(FIXTURE, "package.json"), join(dir, "package.json"));
cpSync(join(FIXTURE, "package-lock.json"), join(dir, "package-lock.json"));
symlinkSync(join(FIXTURE, "node_modules"), join(dir, "node_modules"), "dir");

const api = async (method, path, body) => {
  const r = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${srv.keys.prod}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
};
const run = (id) => api("GET", `/api/v3/runs/${id}`);
async function done(id, interval = 5) {
  for (;;) {
    const r = await run(id);
    if (["COMPLETED", "FAILED", "CRASHED", "CANCELED", "SYSTEM_FAILURE"].includes(r.status)) return r;
    await sleep(interval);
  }
}

try {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TRIGGER_")));
  Object.assign(env, { TRIGGER_ACCESS_TOKEN: srv.pat, TRIGGER_API_URL: srv.url, TRIGGER_PROJECT_REF: srv.projectRef,
    XDG_CONFIG_HOME: join(dirname(dir), "config"), CI: "1", NO_COLOR: "1" });
  const t0 = Date.now();
  const code = await new Promise((res) => {
    const p = spawn(process.execPath, [join(FIXTURE, "node_modules/trigger.dev/dist/esm/index.js"), "deploy",
      "--skip-update-check", "--native-build-server", dir], { cwd: dir, env, stdio: "ignore" });
    p.on("exit", res);
  });
  if (code !== 0) throw new Error(`deploy exited ${code}`);
  let d;
  do {
    await sleep(500);
    d = (await api("GET", "/api/v1/deployments")).data[0];
  } while (!["DEPLOYED", "FAILED"].includes(d.status));
  if (d.status !== "DEPLOYED") throw new Error("the build failed");
  console.log(`trigger.dev ${CLI_VERSION} deploy -> DEPLOYED in ${Date.now() - t0} ms (upload, npm ci, build, index)`);
  const c0 = Date.now();
  const first = await api("POST", "/api/v1/tasks/noop/trigger", { payload: {} });
  await done(first.id);
  console.log(`first run after the deploy (pool starting): ${Date.now() - c0} ms trigger -> COMPLETED`);
  const start = [], complete = [], acked = [];
  for (let i = 0; i < N; i++) {
    const t = Date.now();
    const { id } = await api("POST", "/api/v1/tasks/noop/trigger", { payload: {} });
    acked.push(Date.now() - t);
    const r = await done(id);
    complete.push(Date.now() - t);
    start.push(Date.parse(r.startedAt) - Date.parse(r.createdAt));
  }
  console.log(`processKeepAlive ${keepAlive}, pool of 4, ${N} sequential no-op runs:`);
  console.log(`  trigger POST answered      p50 ${pct(acked, 50)} ms  p99 ${pct(acked, 99)} ms (its commit durable)`);
  console.log(`  trigger -> attempt start   p50 ${pct(start, 50)} ms  p99 ${pct(start, 99)} ms`);
  console.log(`  trigger -> COMPLETED       p50 ${pct(complete, 50)} ms  p99 ${pct(complete, 99)} ms`);
  const b0 = Date.now();
  const ids = await Promise.all(Array.from({ length: B }, () => api("POST", "/api/v1/tasks/noop/trigger", { payload: {} }).then((r) => r.id)));
  await Promise.all(ids.map((id) => done(id, 50)));
  const secs = (Date.now() - b0) / 1000;
  console.log(`  burst of ${B}: all COMPLETED in ${secs.toFixed(1)} s = ${(B / secs).toFixed(1)} runs/s`);
} finally {
  await srv.stop();
  rmSync(dirname(dir), { recursive: true, force: true });
}
