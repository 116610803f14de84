// bench/dashboard.mjs - driven by bench/dashboard. Seeds N runs in prod
// through POST /api/v2/tasks/batch (500 items a call, 4 calls in flight):
// ten common tasks, one rare task (1 run in 10,000), 100 tags, a tenth
// delayed. Then logs in to the dashboard and times, one request at a time,
// the time to first byte of the Runs page's data endpoint
// (/dashboard/api/env/prod/api/v1/runs): the newest page, an older cursor
// page, and filtered queries (a common task + status, the rare task, a
// tag, a created window).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import os from "node:os";
import { startTriggerd } from "../tests/lib/triggerd.mjs";

const N = Number(process.argv[2] ?? 1_000_000);
const dataDir = process.argv[3];
const SAMPLES = Number(process.env.SAMPLES ?? 400);
const ONLY = process.env.ONLY; // a substring of the case names to time
const pct = (v, p) => v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))];

// a reused data dir keeps the keys of the run that seeded it
const keysFile = dataDir && `${dataDir}/bench-keys.json`;
const saved = keysFile && existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, "utf8")) : null;
const srv = await startTriggerd({
  args: ["--rate-limit", "0", "--sync", "normal"],
  ...(dataDir ? { dataDir, keepData: true } : {}),
  ...(saved ? { env: saved.env } : {}),
});
if (saved) Object.assign(srv, saved.srv);
else if (keysFile)
  writeFileSync(keysFile, JSON.stringify({
    env: { TRIGGERD_PROJECT_REF: srv.projectRef, TRIGGERD_DEV_SECRET_KEY: srv.keys.dev, TRIGGERD_STG_SECRET_KEY: srv.keys.stg, TRIGGERD_PROD_SECRET_KEY: srv.keys.prod, TRIGGERD_ACCESS_TOKEN: srv.pat },
    srv: { keys: srv.keys, pat: srv.pat, projectRef: srv.projectRef },
  }));

async function call(method, path, body, headers = {}) {
  const r = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${srv.keys.prod}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

try {
  const have = (await call("GET", "/api/v1/runs?page[size]=1")).data.length ? Number(saved?.seeded ?? 0) : 0;
  if (have < N) {
    const t0 = Date.now();
    let next = have;
    let last = Date.now();
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < N) {
        const base = next;
        next += 500;
        const items = [];
        for (let i = base; i < Math.min(base + 500, N); i++) {
          const task = i % 10000 === 7 ? "bench-rare" : `bench-${i % 10}`;
          const options = { tags: [`t${i % 100}`] };
          if (i % 10 === 3) options.delay = "30d";
          items.push({ task, payload: JSON.stringify({ i }), options });
        }
        await call("POST", "/api/v2/tasks/batch", { items });
        if (Date.now() - last > 10000) {
          last = Date.now();
          console.log(`# seeded ${next} runs, ${Math.round((next - have) / ((Date.now() - t0) / 1000))}/s`);
        }
      }
    }));
    const secs = (Date.now() - t0) / 1000;
    console.log(`seeded ${N - have} runs in ${secs.toFixed(1)} s (${Math.round((N - have) / secs)} runs/s)`);
    if (keysFile) {
      const k = JSON.parse(readFileSync(keysFile, "utf8"));
      writeFileSync(keysFile, JSON.stringify({ ...k, seeded: N }));
    }
  }

  // log in as the browser does
  const login = await fetch(`${srv.url}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `token=${srv.pat}`,
    redirect: "manual",
  });
  const cookie = login.headers.get("set-cookie").split(";")[0];

  /** Time to the response head (first byte) and to the whole body, in ms. */
  const ttfb = (path) =>
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = request(srv.url + path, { headers: { cookie, "x-trigger-api-version": "2025-07-16" }, agent: false }, (res) => {
        const first = Number(process.hrtime.bigint() - t0) / 1e6;
        let n = 0;
        res.on("data", (d) => (n += d.length));
        res.on("end", () => (res.statusCode === 200 ? resolve({ first, all: Number(process.hrtime.bigint() - t0) / 1e6, n }) : reject(new Error(`${path}: ${res.statusCode}`))));
      });
      req.on("error", reject);
      req.end();
    });

  const base = "/dashboard/api/env/prod/api/v1/runs?page[size]=25";
  const first = await call("GET", "/api/v1/runs?page[size]=100");
  const older = first.pagination.next; // a cursor a page or four back
  const cases = [
    ["newest page (25 runs)", base],
    ["older cursor page", `${base}&page[after]=${older}`],
    ["filter: task + status", `${base}&filter[taskIdentifier]=bench-4&filter[status]=QUEUED`],
    ["filter: rare task (1 in 10,000)", `${base}&filter[taskIdentifier]=bench-rare`],
    ["filter: status DELAYED", `${base}&filter[status]=DELAYED`],
    ["filter: tag (1 run in 100)", `${base}&filter[tag]=t42`],
    ["filter: a tag no run has", `${base}&filter[tag]=none`],
    ["filter: created in the last hour", `${base}&filter[createdAt][period]=1h`],
    // a window no run is in (a quiet environment's "last hour"): before the seq bound
    // of store_run_list it read every run
    ["filter: created since tomorrow (no run)", `${base}&filter[createdAt][from]=${Date.now() + 86400000}`],
  ];
  const count = (await call("GET", "/api/v1/runs?page[size]=1")).data.length;
  console.log(`\nload average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}; ${N.toLocaleString("en")} runs in the store (${count ? "listed" : "none?"}); ${SAMPLES} requests per case, one at a time\n`);
  console.log("| query | first byte p50 | p99 | whole body p99 | bytes |");
  console.log("|---|---|---|---|---|");
  for (const [name, path] of cases) {
    if (ONLY && !name.includes(ONLY)) continue;
    for (let i = 0; i < 20; i++) await ttfb(path); // warm
    const f = [], a = [];
    let bytes = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const r = await ttfb(path);
      f.push(r.first);
      a.push(r.all);
      bytes = r.n;
    }
    f.sort((x, y) => x - y);
    a.sort((x, y) => x - y);
    console.log(`| ${name} | ${pct(f, 50).toFixed(2)} ms | ${pct(f, 99).toFixed(2)} ms | ${pct(a, 99).toFixed(2)} ms | ${bytes} |`);
  }
} finally {
  await srv.stop();
}
