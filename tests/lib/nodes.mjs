// tests/lib/nodes.mjs - several triggerd nodes on one PostgreSQL database
// (docs/store.md, "Many nodes, one database"), for the tests of issue 15's
// scale-out: every node gets the same database, keys, project and data dir
// (the data dir holds the local object store, which the nodes then share as
// a shared filesystem would), each its own port.
//
//   const c = await startNodes(2);       // started together: migrations once
//   c.nodes[0].url, c.nodes[1].url, c.keys.dev
//   await c.nodes[0].kill("SIGKILL");    // a node dies; c.nodes[0].start() revives it
//   await c.stop();                      // every node, then the database
//
// Needs TRIGGERD_STORE=pg (scripts/test.sh's pg lane); onPg tells a test file
// whether to skip.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTriggerd } from "./triggerd.mjs";
import { pgDropDatabase } from "./pg.mjs";

export const onPg = process.env.TRIGGERD_STORE === "pg";

export async function startNodes(n = 2, opts = {}) {
  if (!onPg) throw new Error("startNodes needs TRIGGERD_STORE=pg");
  const dataDir = mkdtempSync(join(tmpdir(), "triggerd-nodes-"));
  const keys = { dev: "tr_dev_" + rnd(), stg: "tr_stg_" + rnd(), prod: "tr_prod_" + rnd() };
  const shared = { dataDir, keepData: true, keys, projectRef: "proj_" + rnd(),
    pat: "tr_pat_" + rnd() + rnd(), startTimeout: 30000, ...opts };
  // (nodes started together wait in turn for the migrations' lock: more time to be healthy)
  // all at once on an empty database: the migrations and the bootstrap must
  // happen once among them
  const nodes = await Promise.all(Array.from({ length: n }, () => startTriggerd(shared)));
  return {
    nodes, keys, projectRef: shared.projectRef, pat: shared.pat, dataDir,
    async stop() {
      await Promise.all(nodes.map((s) => s.kill()));
      rmSync(dataDir, { recursive: true, force: true });
      await pgDropDatabase(dataDir);
    },
  };
}

function rnd() {
  const A = "abcdefghijklmnopqrstuvwxyz0123456789";
  let s = "";
  for (let i = 0; i < 20; i++) s += A[Math.floor(Math.random() * A.length)];
  return s;
}
