// bench/realtime.mjs - driven by bench/realtime: run-feed delivery latency.
// N subscribers long-poll one run's Electric feed (spec/api.md 6.13) over
// plain HTTP; the driver changes the run's metadata K times, one change at a
// time, and every subscriber records when it received each change, measured
// from the moment the change's PUT was sent (the change is published after
// its commit is durable, synchronous=FULL). Prints p50/p99 per N; not a test.
// The subscribers are build/rtsub (bench/rtsub.c: raw sockets and epoll), so
// the client's own cost is small; it still shares the machine's cores with
// triggerd. (A Node subscriber pool spends ~100 µs per response parsing it,
// which at 10,000 subscribers is a second of client time per change.)
import http from "node:http";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { ROOT } from "../tests/lib/triggerd.mjs";
import { startTriggerd } from "../tests/lib/triggerd.mjs";

const RTSUB = join(ROOT, "build", "rtsub");
const counts = (process.argv[2] ?? "1,100,10000").split(",").map(Number);
const CHANGES = Number(process.argv[3] ?? 20);
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function request(srv, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(srv.url + path),
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${srv.keys.dev}`,
          "content-type": "application/json",
          "x-trigger-electric-version": "1.0.0-beta.1",
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

/** Unix time in µs, the clock rtsub stamps arrivals with. */
const unixUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

async function round(srv, n) {
  const t = await request(srv, "POST", `/api/v1/tasks/bench-rt/trigger`, {
    payload: {},
    options: { delay: "1h", metadata: { step: 0 } },
  });
  const id = JSON.parse(t.text).id;
  const path = `/realtime/v1/runs/${id}`;
  const first = await request(srv, "GET", `${path}?offset=-1`);
  const u = new URL(srv.url);
  const proc = spawn(RTSUB, [u.hostname, u.port, path, srv.keys.dev, String(n), first.headers["electric-offset"],
    first.headers["electric-handle"], String(CHANGES)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: proc.stdout });
  const lat = [];
  const waiters = new Map(); // line -> resolve
  lines.on("line", (l) => {
    if (l.startsWith("LAT ")) lat.push(Number(l.slice(4)) / 1000);
    waiters.get(l)?.();
  });
  const seen = (l, ms) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rtsub: no "${l}" in ${ms} ms`)), ms);
      waiters.set(l, () => (clearTimeout(timer), resolve()));
    });
  const exited = new Promise((r) => proc.on("exit", r));
  await seen("READY", 60_000);
  await sleep(200 + n / 20); // every first live request parked
  for (let step = 1; step <= CHANGES; step++) {
    proc.stdin.write(`SENT ${step} ${unixUs()}\n`);
    await new Promise((r) => setTimeout(r, 5)); // the SENT line is read before the change lands
    const done = seen(`DONE ${step}`, 60_000);
    await request(srv, "PUT", `/api/v1/runs/${id}/metadata`, { metadata: { step } });
    await done; // one change in flight at a time
    await sleep(50 + n / 20); // every subscriber parked again
  }
  proc.stdin.end();
  await exited;
  lat.sort((a, b) => a - b);
  return { n, deliveries: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] };
}

const srv = await startTriggerd({ args: ["--rate-limit", "0"] });
try {
  console.log(`bench/realtime: run feed delivery (change PUT sent -> subscriber has the row), ${CHANGES} changes`);
  for (const n of counts) {
    const r = await round(srv, n);
    console.log(
      `  ${String(n).padStart(6)} subscribers: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms (${r.deliveries} deliveries)`,
    );
  }
} finally {
  agent.destroy();
  await srv.stop();
}
