// bench/realtime.mjs - driven by bench/realtime: run-feed delivery latency.
// N subscribers long-poll one run's Electric feed (spec/api.md 6.13) over
// plain HTTP; the driver changes the run's metadata K times, one change at a
// time, and every subscriber records when it received each change, measured
// from the moment the change's PUT was sent (the change is published after
// its commit is durable, synchronous=FULL). Prints p50/p99 per N; not a test.
// Subscribers and driver share one Node process and the machine's cores with
// triggerd, so the figures include the client's own parsing.
import http from "node:http";
import { startTriggerd } from "../tests/lib/triggerd.mjs";

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

async function round(srv, n) {
  const t = await request(srv, "POST", `/api/v1/tasks/bench-rt/trigger`, {
    payload: {},
    options: { delay: "1h", metadata: { step: 0 } },
  });
  const id = JSON.parse(t.text).id;
  const path = `/realtime/v1/runs/${id}`;
  const first = await request(srv, "GET", `${path}?offset=-1`);
  const sentAt = new Map(); // step -> ms
  const lat = [];
  let done = false;
  const sub = async () => {
    let handle = first.headers["electric-handle"];
    let offset = first.headers["electric-offset"];
    while (!done) {
      const r = await request(srv, "GET", `${path}?offset=${offset}&handle=${handle}&live=true`);
      const now = performance.now();
      offset = r.headers["electric-offset"];
      for (const m of JSON.parse(r.text)) {
        if (!m.value?.metadata) continue;
        const step = JSON.parse(m.value.metadata).step;
        if (sentAt.has(step)) lat.push(now - sentAt.get(step));
        if (step === CHANGES) return;
      }
    }
  };
  const subs = Array.from({ length: n }, sub);
  await sleep(500 + n / 10); // let them park
  for (let step = 1; step <= CHANGES; step++) {
    sentAt.set(step, performance.now());
    await request(srv, "PUT", `/api/v1/runs/${id}/metadata`, { metadata: { step } });
    await sleep(Math.max(50, n / 20)); // one change in flight at a time
  }
  await Promise.all(subs);
  done = true;
  lat.sort((a, b) => a - b);
  return { n, deliveries: lat.length, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const srv = await startTriggerd({ args: ["--rate-limit", "0"] });
try {
  console.log(`bench/realtime: run feed delivery (change PUT sent -> subscriber has the row), ${CHANGES} changes`);
  for (const n of counts) {
    const r = await round(srv, n);
    console.log(
      `  ${String(n).padStart(6)} subscribers: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms (${r.deliveries} deliveries)`,
    );
  }
} finally {
  agent.destroy();
  await srv.stop();
}
