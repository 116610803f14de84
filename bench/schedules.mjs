// bench/schedules.mjs - driven by bench/schedules: N hourly schedules (prod
// environment, no dev CLI needed) whose minute is the next one at least 40 s
// away, so all N fall due at one nominal tick. After the tick, every run's
// updatedAt (set when the tick's run is written, in the engine's firing
// loop; the commit follows within the same event-loop turn) is read back
// over the runs API: lateness = updatedAt - tick, and ticks/s = N over the
// span from the tick to the last run written. Also prints triggerd's idle
// CPU and RSS with the N schedules registered.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { startTriggerd } from "../tests/lib/triggerd.mjs";

const N = Number(process.argv[2] ?? 10000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function call(srv, method, path, body) {
  const r = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${srv.keys.prod}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

function stat(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return { ticks: Number(f[11]) + Number(f[12]), rss: Number(readFileSync(`/proc/${pid}/statm`, "utf8").split(" ")[1]) * 4096 };
}

const pct = (v, p) => v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];

const srv = await startTriggerd({ args: ["--rate-limit", "0"] });
try {
  const task = "bench-schedule";
  const tasks = [{ id: task, triggerSource: "schedule", filePath: "src/b.ts", exportName: task }];
  await call(srv, "POST", `/api/v1/projects/${srv.projectRef}/background-workers`, {
    localOnly: true,
    metadata: { packageVersion: "4.5.0", contentHash: createHash("md5").update(task).digest("hex"), tasks, queues: [] },
    engine: "V2",
  });
  let tick = Date.now() + 40000;
  tick = tick - (tick % 60000) + 60000;
  const minute = new Date(tick).getUTCMinutes();
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < N) {
      const i = next++;
      await call(srv, "POST", "/api/v1/schedules", { task, cron: `${minute} * * * *`, deduplicationKey: `b-${i}` });
    }
  }));
  const created = Date.now() - t0;
  if (Date.now() > tick - 8000) throw new Error("creating the schedules took too long for this tick; try fewer");
  const a = stat(srv.proc.pid);
  await sleep(5000);
  const b = stat(srv.proc.pid);
  console.log(`${N} schedules created in ${created} ms (${Math.round(N / (created / 1000))}/s); idle: CPU ${(((b.ticks - a.ticks) / 100 / 5) * 100).toFixed(2)}%, RSS ${(b.rss / 1048576).toFixed(1)} MiB`);
  await sleep(tick - Date.now() + 1000);
  const lat = [];
  for (let after; ; ) {
    await sleep(0);
    const page = await call(srv, "GET", `/api/v1/runs?page[size]=100&filter[taskIdentifier]=${task}` + (after ? `&page[after]=${after}` : ""));
    for (const r of page.data) lat.push(Date.parse(r.updatedAt) - tick);
    after = page.pagination.next;
    if (!after) {
      if (lat.length < N && Date.now() < tick + 60000) {
        lat.length = 0; // not all written yet: read again
        await sleep(500);
        continue;
      }
      break;
    }
  }
  lat.sort((x, y) => x - y);
  const span = lat[lat.length - 1];
  console.log(`tick ${new Date(tick).toISOString()}: ${lat.length}/${N} runs; ${Math.round(lat.length / (Math.max(span, 1) / 1000))} ticks/s; lateness p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${span} ms`);
} finally {
  await srv.stop();
}
