// bench/streams.mjs - driven by bench/streams: realtime output streams (v2,
// triggerd's own S2 API, spec/s2.md). The writer is the real S2 client the
// latest SDK ships (@s2-dev/streamstore 0.25.0, an append session over h2c,
// as streams.pipe() under Node); the reader is one SSE connection on
// /realtime/v1/streams/{run}/{key}, as streams.read() / useRealtimeStream.
// Prints, not a test:
//   - append -> ack and append -> reader, p50/p99, one record at a time;
//   - durable records/s: one session pipelining single-record appends, one
//     session appending batches of 100, and 8 sessions on 8 streams at once.
// Acks come after the record's commit is durable (synchronous=FULL).
import { startTriggerd } from "../tests/lib/triggerd.mjs";

const S2 = await import(new URL("../tests/compat/node_modules/sdk-latest/node_modules/@s2-dev/streamstore/dist/esm/index.js", import.meta.url).href);
const SAMPLES = Number(process.argv[2] ?? 200);
const RECORDS = Number(process.argv[3] ?? 20000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (s, p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
const fmt = (xs) => {
  xs.sort((a, b) => a - b);
  return `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms`;
};

async function api(srv, method, path, body, headers = {}) {
  const r = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${srv.keys.dev}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, json: await r.json().catch(() => null) };
}

/** A run to hang streams on, and a writer for its stream `key`. */
async function open(srv, run, key) {
  const r = await api(srv, "PUT", `/realtime/v1/streams/${run}/self/${key}`, undefined, {
    "x-trigger-realtime-streams-version": "v2",
  });
  if (r.status !== 202) throw new Error(`PUT stream: ${r.status}`);
  const h = Object.fromEntries(r.headers);
  const s2 = new S2.S2({ accessToken: h["x-s2-access-token"], endpoints: { account: h["x-s2-endpoint"], basin: h["x-s2-endpoint"] } });
  return s2.basin(h["x-s2-basin"]).stream(h["x-s2-stream-name"]);
}

/** Reads the stream's SSE feed; onRecord(body, arrivalMs) per record. */
function reader(srv, run, key, onRecord) {
  const ac = new AbortController();
  const done = (async () => {
    const r = await fetch(`${srv.url}/realtime/v1/streams/${run}/${key}`, {
      signal: ac.signal,
      headers: { authorization: `Bearer ${srv.keys.dev}`, "timeout-seconds": "600", "x-trigger-realtime-streams-version": "v2" },
    });
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of r.body) {
        const at = performance.now();
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const ev = buf.slice(0, i).split("\n");
          buf = buf.slice(i + 2);
          if (!ev.includes("event: batch")) continue;
          const data = ev.find((l) => l.startsWith("data: "));
          for (const rec of JSON.parse(data.slice(6)).records) onRecord(rec.body, at);
        }
      }
    } catch (e) {
      if (e.name !== "AbortError") throw e;
    }
  })();
  return { stop: () => (ac.abort(), done.catch(() => {})) };
}

const rec = (body) => S2.AppendRecord.string({ body });
const input = (recs) => S2.AppendInput.create(recs);

async function latency(srv, run) {
  const stream = await open(srv, run, "lat");
  const sess = await stream.appendSession();
  const seen = new Map();
  const rd = reader(srv, run, "lat", (body, at) => seen.get(body)?.(at));
  await sleep(200);
  const ack = [], read = [];
  for (let i = 0; i < SAMPLES; i++) {
    const body = `r${i}`;
    const got = new Promise((r) => seen.set(body, r));
    const t0 = performance.now();
    const t = await sess.submit(input([rec(body)]));
    await t.ack();
    ack.push(performance.now() - t0);
    read.push((await got) - t0);
    await sleep(5);
  }
  await sess.close();
  await rd.stop();
  return { ack: fmt(ack), read: fmt(read) };
}

/** Appends RECORDS records in submits of `per`; resolves at the last ack. */
async function pump(stream, per, records) {
  const sess = await stream.appendSession({ maxInflightBytes: 64 * 1024 * 1024 });
  const tickets = [];
  for (let i = 0; i < records; i += per)
    tickets.push(await sess.submit(input(Array.from({ length: Math.min(per, records - i) }, (_, j) => rec(`{"i":${i + j},"text":"a token of output"}`)))));
  for (const t of tickets) await t.ack();
  await sess.close();
}

async function throughput(srv, run, label, sessions, per) {
  const streams = [];
  for (let s = 0; s < sessions; s++) streams.push(await open(srv, run, `tp-${label}-${s}`));
  const each = Math.floor(RECORDS / sessions);
  const t0 = performance.now();
  await Promise.all(streams.map((st) => pump(st, per, each)));
  const secs = (performance.now() - t0) / 1000;
  return `${Math.round((each * sessions) / secs).toLocaleString("en-US")} records/s (${(each * sessions).toLocaleString("en-US")} in ${secs.toFixed(2)} s)`;
}

const srv = await startTriggerd({ args: ["--rate-limit", "0"] });
try {
  const t = await api(srv, "POST", `/api/v1/tasks/bench-streams/trigger`, { payload: {}, options: { delay: "1h" } });
  const run = t.json.id;
  console.log(`bench/streams: v2 output streams through triggerd's S2 API (client @s2-dev/streamstore 0.25.0, h2c append session)`);
  const l = await latency(srv, run);
  console.log(`  append -> ack,    one record at a time (${SAMPLES}): ${l.ack}`);
  console.log(`  append -> reader, one record at a time (${SAMPLES}): ${l.read}`);
  console.log(`  durable, 1 session, 1 record per append (pipelined): ${await throughput(srv, run, "one", 1, 1)}`);
  console.log(`  durable, 1 session, 100 records per append:          ${await throughput(srv, run, "batch", 1, 100)}`);
  console.log(`  durable, 8 sessions on 8 streams, 1 record per append: ${await throughput(srv, run, "eight", 8, 1)}`);
} finally {
  await srv.stop();
}
