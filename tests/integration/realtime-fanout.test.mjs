// Integration: the change hub's fan-out over the Electric long-poll protocol
// (spec/api.md 6.13), with plain HTTP. 1,000 live subscribers to one run each
// get every change, in order, none twice; a subscriber that stops polling
// costs nothing once its long-poll ends (the hub holds no per-subscriber
// buffer: a parked request is the whole subscriber, and one that reconnects
// catches up from the store); the memory of idle parked subscribers is
// measured and printed (not a timed assertion; the bound is loose).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import { startTriggerd, api, uid } from "./helpers.mjs";

const SUBSCRIBERS = 1000;
let srv;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

before(async () => {
  srv = await startTriggerd();
});
after(async () => {
  agent.destroy();
  await srv?.stop();
});

/** One feed request; resolves {status, handle, offset, rows}. */
function poll(path, { offset = "-1", handle, live = false } = {}) {
  const q = new URLSearchParams({ offset });
  if (handle) q.set("handle", handle);
  if (live) q.set("live", "true");
  const u = new URL(`${srv.url}${path}?${q}`);
  return new Promise((resolve, reject) => {
    const req = http.get(
      u,
      {
        agent,
        headers: { authorization: `Bearer ${srv.keys.dev}`, "x-trigger-electric-version": "1.0.0-beta.1" },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          let msgs = [];
          try {
            msgs = JSON.parse(body);
          } catch {}
          resolve({
            status: res.statusCode,
            handle: res.headers["electric-handle"],
            offset: res.headers["electric-offset"],
            rows: Array.isArray(msgs) ? msgs.filter((m) => m.value).map((m) => m.value) : [],
          });
        });
      },
    );
    req.on("error", reject);
  });
}

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, "utf8"))[1]);

async function triggerDelayed(metadata) {
  const r = await api(srv, "POST", `/api/v1/tasks/${uid("fan-")}/trigger`, {
    body: { payload: {}, options: { delay: "1h", metadata } },
  });
  assert.equal(r.status, 200, r.text);
  return r.json.id;
}

test(`${SUBSCRIBERS} live subscribers to one run each get every change, in order, once`, { timeout: 120_000 }, async () => {
  const id = await triggerDelayed({ step: 0 });
  const path = `/realtime/v1/runs/${id}`;
  const first = await poll(path);
  assert.equal(first.status, 200);
  assert.equal(first.rows.length, 1);
  // every subscriber keeps polling from its own offset until it saw step 3
  const subscriber = async () => {
    let { handle, offset } = first;
    const steps = [];
    while (!steps.includes(3)) {
      const r = await poll(path, { handle, offset, live: true });
      assert.equal(r.status, 200);
      offset = r.offset;
      for (const row of r.rows) if (row.metadata) steps.push(JSON.parse(row.metadata).step);
    }
    return steps;
  };
  const subs = Array.from({ length: SUBSCRIBERS }, subscriber);
  // let them all park before changing the run
  const rss0 = rssKiB();
  await new Promise((r) => setTimeout(r, 1500));
  const rss1 = rssKiB();
  console.log(
    `# ${SUBSCRIBERS} parked subscribers: RSS +${rss1 - rss0} KiB (${(((rss1 - rss0) * 1024) / SUBSCRIBERS).toFixed(0)} B each)`,
  );
  assert.ok(rss1 - rss0 < SUBSCRIBERS * 64, "under 64 KiB per idle subscriber");
  for (const step of [1, 2, 3]) {
    const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body: { metadata: { step } } });
    assert.equal(r.status, 200, r.text);
    await new Promise((r) => setTimeout(r, 200));
  }
  const all = await Promise.all(subs);
  for (const steps of all) {
    // a subscriber may see a coalesced row (only the latest of two quick
    // changes), never one out of order or twice
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b));
    assert.equal(new Set(steps).size, steps.length);
    assert.equal(steps.at(-1), 3);
  }
  const withAll = all.filter((s) => s.length === 3).length;
  assert.ok(withAll >= SUBSCRIBERS * 0.9, `only ${withAll} of ${SUBSCRIBERS} saw every step`);
});

test("a subscriber that stops polling misses nothing when it comes back with its offset", async () => {
  const id = await triggerDelayed({ step: 0 });
  const path = `/realtime/v1/runs/${id}`;
  const first = await poll(path);
  // gone for five changes
  for (const step of [1, 2, 3, 4, 5]) {
    const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body: { metadata: { step } } });
    assert.equal(r.status, 200);
  }
  const back = await poll(path, { handle: first.handle, offset: first.offset, live: true });
  assert.equal(back.status, 200);
  assert.equal(back.rows.length, 1, "the run's latest row, at once");
  assert.equal(JSON.parse(back.rows[0].metadata).step, 5);
  // and the hub kept nothing for it meanwhile: the next live poll parks
  const next = poll(path, { handle: first.handle, offset: back.offset, live: true });
  const r = await api(srv, "PUT", `/api/v1/runs/${id}/metadata`, { body: { metadata: { step: 6 } } });
  assert.equal(r.status, 200);
  const n = await next;
  assert.equal(JSON.parse(n.rows[0].metadata).step, 6);
});
