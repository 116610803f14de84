// tests/lib/triggerd.mjs - starts a real build/triggerd on a free port with a
// temporary data dir, for integration and compat tests.
//
//   const srv = await startTriggerd();          // fresh data dir
//   srv.url, srv.keys.dev, srv.keys.prod, srv.projectRef, srv.pat
//   await srv.restart();                        // SIGTERM, then start again on the same dir
//   await srv.stop();                           // SIGTERM and remove the data dir
//
// TRIGGERD_STORE=pg runs triggerd on PostgreSQL (tests/lib/pg.mjs): one
// database per data dir, in a cluster the test process starts (or the one
// TRIGGERD_PG_URL names). With TRIGGERD_NODES=2 as well, a second node
// serves the same database and data dir: srv.peer (the worker side of the
// tests, FakeWorker and the dev CLI, talks to it; the SDK to srv); kill,
// restart and stop apply to both.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { pgCluster, pgDropDatabase } from "./pg.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "../..");
const REAL_BINARY = process.env.TRIGGERD_BIN ?? join(ROOT, "build", "triggerd");
const ON_PG = process.env.TRIGGERD_STORE === "pg";
const NODES = ON_PG ? Number(process.env.TRIGGERD_NODES || 1) : 1;
// on PostgreSQL a wrapper adds --database-url (tests/lib/triggerd-pg)
export const BINARY = ON_PG ? join(here, "triggerd-pg") : REAL_BINARY;
if (ON_PG) process.env.TRIGGERD_REAL_BIN = REAL_BINARY;

function pgEnv() {
  return ON_PG ? { TRIGGERD_PG_URL: process.env.TRIGGERD_PG_URL } : {};
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

function rand(n, alphabet) {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export async function startTriggerd(opts = {}) {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "triggerd-test-"));
  const port = opts.port ?? (await freePort());
  // nodes of one database share these (tests/lib/nodes.mjs passes them)
  const keys = opts.keys ?? {
    dev: "tr_dev_" + rand(20, ALNUM),
    stg: "tr_stg_" + rand(20, ALNUM),
    prod: "tr_prod_" + rand(20, ALNUM),
  };
  const projectRef = opts.projectRef ?? "proj_" + rand(20, "abcdefghijklmnopqrstuvwxyz");
  const pat = opts.pat ?? "tr_pat_" + rand(40, "123456789abcdefghijkmnopqrstuvwxyz");
  const env = {
    ...process.env,
    TRIGGERD_PROJECT_REF: projectRef,
    TRIGGERD_DEV_SECRET_KEY: keys.dev,
    TRIGGERD_STG_SECRET_KEY: keys.stg,
    TRIGGERD_PROD_SECRET_KEY: keys.prod,
    TRIGGERD_ACCESS_TOKEN: pat,
    ...(opts.env ?? {}),
  };
  const srv = {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    keys,
    projectRef,
    pat,
    proc: null,
    output: "",
    async start() {
      const args = ["--listen", `127.0.0.1:${port}`, "--data", dataDir, ...(opts.args ?? [])];
      if (ON_PG) await pgCluster(); // sets TRIGGERD_PG_URL for the wrapper
      const proc = spawn(BINARY, args, { env: { ...env, ...pgEnv() }, stdio: ["ignore", "pipe", "pipe"] });
      this.proc = proc;
      proc.stdout.on("data", (d) => (this.output += d));
      proc.stderr.on("data", (d) => (this.output += d));
      if (process.env.TRIGGERD_ECHO) proc.stderr.pipe(process.stderr); // debugging a test
      const deadline = Date.now() + (opts.startTimeout ?? 10000);
      while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`triggerd exited ${proc.exitCode}: ${this.output}`);
        try {
          const r = await fetch(`${this.url}/healthz`);
          if (r.ok) return;
        } catch {}
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`triggerd did not become healthy: ${this.output}`);
    },
    async kill(signal = "SIGTERM") {
      const p = this.proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const done = new Promise((r) => p.once("exit", r));
      p.kill(signal);
      await done;
    },
    async restart(signal = "SIGTERM") {
      await this.kill(signal);
      await this.start();
    },
    async stop() {
      await this.kill();
      if (!opts.keepData) {
        rmSync(dataDir, { recursive: true, force: true });
        if (ON_PG) await pgDropDatabase(dataDir);
      }
    },
  };
  await srv.start();
  if (NODES > 1 && !opts.single) await addPeer(srv, opts);
  return srv;
}

// The second node of TRIGGERD_NODES=2: same data dir, keys and project.
async function addPeer(srv, opts) {
  const peer = await startTriggerd({ ...opts, port: undefined, dataDir: srv.dataDir, keepData: true,
    keys: srv.keys, projectRef: srv.projectRef, pat: srv.pat, single: true });
  srv.peer = peer;
  const own = { start: srv.start, kill: srv.kill, stop: srv.stop };
  srv.start = async function () {
    await own.start.call(this);
    await peer.start();
  };
  srv.kill = async function (signal) {
    await Promise.all([own.kill.call(this, signal), peer.kill(signal)]);
  };
  srv.restart = async function (signal = "SIGTERM") {
    await this.kill(signal);
    await this.start();
  };
  srv.stop = async function () {
    await peer.kill();
    await own.stop.call(this);
  };
}
