// tests/lib/pg.mjs - a throwaway PostgreSQL cluster for tests (Debian's
// `postgresql`: initdb + pg_ctl into a temp dir, a free port, a socket in
// that dir; as the `postgres` user when run as root), and one database per
// triggerd data dir.
//
//   const url = await pgDatabase(dataDir);  // postgres URL of dataDir's database
//
// TRIGGERD_PG_URL=postgresql:///postgres?host=...&port=... uses a running
// cluster instead (scripts/test.sh starts one for its whole PostgreSQL pass);
// otherwise the first call starts a private cluster, stopped when the process
// exits.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./triggerd.mjs";

function pgBin() {
  const base = "/usr/lib/postgresql";
  const v = existsSync(base)
    ? readdirSync(base).sort((a, b) => Number(a) - Number(b)).pop()
    : null;
  if (!v) throw new Error("PostgreSQL is not installed (scripts/deps.sh installs postgresql)");
  return join(base, v, "bin");
}

const asRoot = process.getuid?.() === 0;

function run(cmd, args, what) {
  const r = asRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" })
    : spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr || r.stdout}`);
  return r.stdout;
}

// Stops the cluster in dir (immediate) and removes it.
export function stopClusterDir(dir) {
  const bin = pgBin();
  spawnSync(asRoot ? "runuser" : join(bin, "pg_ctl"),
    asRoot ? ["-u", "postgres", "--", join(bin, "pg_ctl"), "-D", dir, "-m", "immediate", "stop"]
      : ["-D", dir, "-m", "immediate", "stop"]);
  rmSync(dir, { recursive: true, force: true });
}

// Starts a cluster; returns { url(db), dir, port, stop() }.
export async function startCluster({ watchdog = true } = {}) {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), "triggerd-pg-"));
  chmodSync(dir, 0o700);
  if (asRoot) spawnSync("chown", ["postgres", dir]);
  const port = await freePort();
  run(join(bin, "initdb"), ["-D", dir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
    "initdb");
  // tests need no power-loss safety; benchmarks ask for it (TRIGGERD_PG_FSYNC=on)
  const fsync = process.env.TRIGGERD_PG_FSYNC === "on" ? "on" : "off";
  const opts = `-p ${port} -c listen_addresses='' -k ${dir} -c fsync=${fsync}` +
    ` -c full_page_writes=${fsync} -c max_connections=300 -c shared_buffers=128MB`;
  const pgctl = (...a) => run(join(bin, "pg_ctl"), ["-D", dir, ...a], "pg_ctl " + a.at(-1));
  pgctl("-l", join(dir, "server.log"), "-w", "-o", opts, "start");
  // a test process killed outright leaves no cluster behind: a watchdog
  // stops it when the process is gone (stop() below is the usual way)
  const ctl = (asRoot ? `runuser -u postgres -- ` : "") + `${join(bin, "pg_ctl")} -D ${dir}`;
  if (watchdog) spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done;` +
    ` [ -d ${dir} ] && ${ctl} -m immediate stop >/dev/null 2>&1; rm -rf ${dir}`],
  { detached: true, stdio: "ignore" }).unref();
  const cluster = {
    dir,
    port,
    bin,
    url: (db) => `postgresql:///${db}?host=${dir}&port=${port}&user=postgres`,
    stop() {
      stopClusterDir(dir);
    },
    // the tests of PostgreSQL going away under a running triggerd
    stopServer(mode = "fast") {
      pgctl("-m", mode, "-w", "stop");
    },
    startServer() {
      pgctl("-l", join(dir, "server.log"), "-w", "-o", opts, "start");
    },
  };
  return cluster;
}

let cluster = null;

function sharedCluster() {
  const u = process.env.TRIGGERD_PG_URL;
  if (!u) return null;
  const q = new URL(u.replace(/^postgres(ql)?:/, "http:"));
  const host = q.searchParams.get("host"), port = q.searchParams.get("port");
  return { url: (db) => `postgresql:///${db}?host=${host}&port=${port}&user=postgres`, dir: host, port };
}

export async function pgCluster() {
  if (cluster) return cluster;
  cluster = sharedCluster();
  if (!cluster) {
    cluster = await startCluster();
    process.on("exit", () => cluster.stop());
    process.env.TRIGGERD_PG_URL = cluster.url("postgres"); // for tests/lib/triggerd-pg
  }
  return cluster;
}

function psql(c, sql) {
  const r = spawnSync(join(pgBin(), "psql"), ["-X", "-q", "-At", "-h", c.dir, "-p", String(c.port),
    "-U", "postgres", "-d", "postgres", "-c", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

// The URL of the database that belongs to dataDir (created on first use), so
// a restart on the same data dir finds its data again.
export async function pgDatabase(dataDir) {
  const c = await pgCluster();
  const db = "td_" + createHash("sha1").update(dataDir).digest("hex").slice(0, 20);
  if (!psql(c, `SELECT 1 FROM pg_database WHERE datname='${db}'`))
    psql(c, `CREATE DATABASE ${db}`);
  return c.url(db);
}

// Drops dataDir's database (srv.stop() of a test that keeps no data).
export async function pgDropDatabase(dataDir) {
  const c = await pgCluster();
  const db = "td_" + createHash("sha1").update(dataDir).digest("hex").slice(0, 20);
  psql(c, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
}
