// tests/compat/dev/latency.mjs - one measurement each of how fast the real
// dev CLI reacts through triggerd (fixture/src/trigger/push.ts), shared by
// push.test.mjs and bench/dev-latency. Each returns milliseconds, measured
// on this machine's clock (the task processes run here too).
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../helpers.mjs";
import { tasks, runs, wait } from "../sdk.mjs";

async function until(fn, what, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function output(id) {
  return until(async () => {
    const r = await runs.retrieve(id);
    if (r.status === "COMPLETED") return r.output;
    if (["FAILED", "CRASHED", "SYSTEM_FAILURE", "CANCELED", "EXPIRED", "TIMED_OUT"].includes(r.status))
      throw new Error(`run ${id} ${r.status}: ${JSON.stringify(r.error)}`);
    return null;
  }, `run ${id}`, 60_000);
}

/** trigger (request sent) -> the task's first line, and -> the attempt
 * start the CLI asked triggerd for (the run's startedAt; what is between
 * the two is the CLI starting a task process). Returns {task, attempt}. */
export async function triggerToStart() {
  const t0 = Date.now();
  const h = await tasks.trigger("push-start", {});
  const out = await output(h.id);
  const r = await runs.retrieve(h.id);
  return { task: out.startedAt - t0, attempt: r.startedAt.getTime() - t0 };
}

/** wait.completeToken (request sent) -> the task running again. `srv`
 * from startServer: the run's snapshot tells when it is blocked. */
export async function tokenToResume(srv) {
  const h = await tasks.trigger("push-token", {});
  const token = await until(async () => (await runs.retrieve(h.id)).metadata?.token, "token");
  // the run publishes the token just before it waits on it: let the wait land
  await until(async () => {
    const r = await fetch(`${srv.url}/engine/v1/dev/runs/${h.id}/snapshots/latest`, {
      headers: { authorization: `Bearer ${srv.keys.dev}` },
    });
    return (await r.json()).execution?.snapshot.executionStatus === "EXECUTING_WITH_WAITPOINTS";
  }, "the token wait", 30_000);
  const t0 = Date.now();
  await wait.completeToken(token, { ok: true });
  const out = await output(h.id);
  return out.resumedAt - t0;
}

/** runs.cancel (request sent) -> the task's abort signal. */
export async function cancelToAbort() {
  const file = join(mkdtempSync(join(tmpdir(), "push-abort-")), "abort");
  const h = await tasks.trigger("push-abort", { file });
  await until(async () => (await runs.retrieve(h.id)).metadata?.phase === "running", "running");
  const t0 = Date.now();
  await runs.cancel(h.id);
  const at = await until(() => existsSync(file) && Number(readFileSync(file, "utf8").split("\n")[0]), "abort", 20_000);
  return at - t0;
}

/** wait.for(seconds) > 5 s: how late the task resumes. */
export async function waitForLateness(seconds = 6) {
  const h = await tasks.trigger("push-wait-for", { seconds });
  return (await output(h.id)).lateMs;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
