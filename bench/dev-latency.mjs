// bench/dev-latency.mjs - see bench/dev-latency. Starts triggerd and one
// `trigger.dev dev` session on tests/compat/dev's fixture, then samples each
// latency in turn (tests/compat/dev/latency.mjs) and prints p50/p99; with
// "throughput N" it queues N no-op runs (push-start) in batches and times
// the CLI finishing them.
import { startServer } from "../tests/compat/helpers.mjs";
import { startDevSession, CLI_VERSION } from "../tests/compat/dev/cli.mjs";
import { tasks, runs } from "../tests/compat/sdk.mjs";
import {
  triggerToStart, tokenToResume, cancelToAbort, waitForLateness, percentile,
} from "../tests/compat/dev/latency.mjs";

const throughput = process.argv[2] === "throughput";
const n = Number((throughput ? process.argv[3] : process.argv[2]) ?? (throughput ? 500 : 20));
const srv = await startServer();
const cli = await startDevSession(srv);
if (throughput) {
  try {
    console.log(`trigger.dev ${CLI_VERSION} dev, ${n} no-op runs`);
    await triggerToStart(); // warm-up: the first build's first process
    const tag = `tp${Date.now()}`;
    const t0 = Date.now();
    for (let i = 0; i < n; i += 500) {
      const items = Array.from({ length: Math.min(500, n - i) }, () => ({ payload: {}, options: { tags: [tag] } }));
      await tasks.batchTrigger("push-start", items);
    }
    const queued = Date.now() - t0;
    let done = 0, failed = 0;
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      done = 0;
      failed = 0;
      for await (const r of runs.list({ tag, limit: 100 })) {
        if (r.status === "COMPLETED") done++;
        else if (["FAILED", "CRASHED", "SYSTEM_FAILURE", "CANCELED", "EXPIRED", "TIMED_OUT"].includes(r.status)) failed++;
      }
      if (done + failed >= n) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const secs = (Date.now() - t0) / 1000;
    console.log(`queued in ${queued} ms; ${done} completed, ${failed} failed in ${secs.toFixed(1)} s: ` +
      `${(done / secs).toFixed(1)} runs/s through the CLI`);
  } finally {
    await cli.stop();
    await srv.stop();
  }
  process.exit(0);
}
const rows = [];
const row = (what, xs) => {
  rows.push({ what, p50: percentile(xs, 50), p99: percentile(xs, 99), n: xs.length });
  console.log(`${what.padEnd(42)} p50 ${String(percentile(xs, 50)).padStart(6)} ms   p99 ${String(percentile(xs, 99)).padStart(6)} ms   (n=${xs.length})`);
};
try {
  console.log(`trigger.dev ${CLI_VERSION} dev, ${n} samples each`);
  await triggerToStart(); // warm-up: the first build's first process
  const attempt = [], task = [];
  for (let i = 0; i < n; i++) {
    const r = await triggerToStart();
    attempt.push(r.attempt);
    task.push(r.task);
  }
  row("trigger -> attempt start (CLI asked)", attempt);
  row("trigger -> task's first line", task);
  const tok = [];
  for (let i = 0; i < n; i++) tok.push(await tokenToResume(srv));
  row("wait token completed -> task resumed", tok);
  const cancel = [];
  for (let i = 0; i < n; i++) cancel.push(await cancelToAbort());
  row("runs.cancel -> abort signal in the task", cancel);
  const late = [];
  for (let i = 0; i < Math.min(n, 3); i++) late.push(await waitForLateness(6));
  row("wait.for 6 s: resumed late by", late);
  const s = await (await fetch(`${srv.url}/engine/v1/dev/push`, { headers: { authorization: `Bearer ${srv.keys.dev}` } })).json();
  console.log(`push channel: ${s.notifies} run:notify sent, ${s.received} acknowledged by the CLI`);
} finally {
  await cli.stop();
  await srv.stop();
}
