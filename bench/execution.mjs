// bench/execution.mjs - driven by bench/execution: trigger -> attempt start
// latency at a fixed rate, and the drain throughput of no-op runs through
// the C worker. Prints figures; not a test.
import { spawn } from "node:child_process";

const [url, key, workerBin, rate, seconds, drainRuns] = process.argv.slice(2);
const H = { authorization: `Bearer ${key}`, "content-type": "application/json", "x-trigger-api-version": "2025-07-16" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function trigger(task, tag) {
  const r = await fetch(`${url}/api/v1/tasks/${task}/trigger`, {
    method: "POST", headers: H, body: JSON.stringify({ payload: "{}", options: { tags: [tag] } }),
  });
  return (await r.json()).id;
}

async function listAll(tag) {
  const out = [];
  let after = "";
  for (;;) {
    const r = await fetch(`${url}/api/v1/runs?page[size]=100&filter[tag]=${tag}${after}`, { headers: H });
    const j = await r.json();
    out.push(...j.data);
    if (!j.pagination.next) return out;
    after = `&page[after]=${j.pagination.next}`;
  }
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function worker(extra = []) {
  return spawn(workerBin, extra, {
    env: { ...process.env, TRIGGER_API_URL: url, TRIGGER_SECRET_KEY: key,
           TRIGGER_WORKER_POLL_MS: "2", TRIGGER_WORKER_THREADS: "8" },
    stdio: "ignore",
  });
}

// 1. latency at a fixed rate, the worker already polling
const w = worker();
await sleep(500);
const tag = "lat" + Date.now();
const n = Number(rate) * Number(seconds);
const t0 = Date.now();
const pending = [];
for (let i = 0; i < n; i++) {
  const due = t0 + (i * 1000) / Number(rate);
  const wait = due - Date.now();
  if (wait > 0) await sleep(wait);
  pending.push(trigger("hello", tag));
}
await Promise.all(pending);
let runs;
for (let i = 0; i < 600; i++) {
  runs = await listAll(tag);
  if (runs.length === n && runs.every((r) => r.status === "COMPLETED")) break;
  await sleep(100);
}
w.kill();
const lat = runs.filter((r) => r.startedAt).map((r) => new Date(r.startedAt) - new Date(r.createdAt)).sort((a, b) => a - b);
console.log(`trigger -> attempt start at ${rate}/s for ${seconds} s (${lat.length} runs): ` +
  `p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${lat[lat.length - 1]} ms`);

// 2. drain throughput: queue N no-op runs, then time the worker to finish them
const dtag = "drain" + Date.now();
const N = Number(drainRuns);
for (let i = 0; i < N; i += 500) {
  const items = Array.from({ length: Math.min(500, N - i) }, () => ({ task: "hello", payload: "{}", options: { tags: [dtag] } }));
  await fetch(`${url}/api/v2/tasks/batch`, { method: "POST", headers: H, body: JSON.stringify({ items }) });
}
const d0 = Date.now();
const dw = worker([String(N)]);
await new Promise((r) => dw.once("exit", r));
const secs = (Date.now() - d0) / 1000;
console.log(`no-op runs through the C worker (8 threads): ${N} in ${secs.toFixed(2)} s = ${(N / secs).toFixed(0)} runs/s`);
