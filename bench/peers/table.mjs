// bench/peers/table.mjs - prints the results of bench/peers/run (one JSON line per system) as one
// markdown table: a row per figure, a column per system, and triggerd's ratio to the best peer.
import { readFileSync } from "node:fs";

const rows = readFileSync(process.argv[2], "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
const E = process.env;
const fmtInt = (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US"));
const fmtMs = (v) => (v == null ? "–" : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString("en-US"));
const fmtLat = (v, r) => (v == null ? `not started in ${r.latWait} s` : fmtMs(v));
const fmt1 = (v) => (v == null ? "–" : v.toFixed(1));

const figures = [
  ["enqueue, single (jobs/s)", "enqSingle", fmtInt, +1],
  ["enqueue, batch (jobs/s)", "enqBatch", (v, r) => (v == null ? "n/a" : `${fmtInt(v)} (×${r.batchSize})`), +1],
  [`drain, ${E.BENCH_CONCURRENCY || 8} no-op workers (jobs/s)`, "drain", (v, r) => `${fmtInt(v)} (of ${fmtInt(r.drained)})`, +1],
  ["latency p50 (ms)", "p50", fmtLat, -1],
  ["latency p99 (ms)", "p99", fmtLat, -1],
  ["latency max (ms)", "max", fmtLat, -1],
  ["jobs started in latency window", "latN", (v, r) => `${fmtInt(v)}/${fmtInt(r.latTotal)}`, 0],
  ["server peak memory (MB)", "rssMB", fmt1, -1],
  ["server CPU (s)", "cpu", fmt1, -1],
];

const tds = rows.filter((r) => r.system === "triggerd");
const peers = rows.filter((r) => r.system !== "triggerd");
// a durable triggerd (fsync per commit) is compared with the durable peers only
const ratio = (t, key, dir) => {
  // and triggerd on PostgreSQL with the PostgreSQL-based peers
  const vals = peers.filter((r) => (!t.durable || r.durable) && (!t.pg || r.pg)).map((r) => r[key])
    .filter((v) => v != null);
  if (!dir || t?.[key] == null || !vals.length) return "";
  const best = dir > 0 ? Math.max(...vals) : Math.min(...vals);
  if (!best) return "";
  const x = t[key] / best;
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
};
const head = ["", ...rows.map((r) => r.label), ...tds.map((t) => `${t.label} ÷ best ${t.pg ? "PostgreSQL " : t.durable ? "durable " : ""}peer`)];
const lines = [head, head.map(() => "---")];
lines.push(["durability", ...rows.map((r) => r.durability), ...tds.map(() => "")]);
for (const [name, key, f, dir] of figures) {
  // latency counts only the jobs that started: a system that left jobs unstarted gets no ratio
  lines.push([name, ...rows.map((r) => f(r[key], r)), ...tds.map((t) => ratio(t, key, dir))]);
}
console.log(lines.map((l) => "| " + l.join(" | ") + " |").join("\n"));
console.log(`\n${rows.length} systems; jobs=${E.BENCH_JOBS} latency=${E.BENCH_RATE}/s x ${E.BENCH_SECS}s; ` +
  "ratio > 1 means triggerd is higher (better for throughput, worse for latency, memory and CPU).");
