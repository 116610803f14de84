// tests/integration/migrate.test.mjs - `triggerd migrate` (a database
// upgraded ahead of the nodes) and a node that refuses a database whose
// schema is newer than it knows (the rolling upgrade of docs/store.md), on
// SQLite and on PostgreSQL (a cluster of its own).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTriggerd, api, ROOT } from "./helpers.mjs";
import { startCluster } from "../lib/pg.mjs";

const BIN = process.env.TRIGGERD_BIN ?? join(ROOT, "build", "triggerd");
let cluster;
before(async () => {
  cluster = await startCluster();
});
after(() => cluster?.stop());

function triggerd(args, env = {}) {
  // a node refusing the database exits at once; the timeout only bounds a bug
  return spawnSync(BIN, args, { encoding: "utf8", timeout: 15000,
    env: { ...process.env, TRIGGERD_DATABASE_URL: "", ...env } });
}

function sqlite(dir, sql) {
  const r = spawnSync("sqlite3", [join(dir, "triggerd.db"), sql], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function psql(url, sql) {
  const db = url.match(/^postgresql:\/\/\/([^?]+)/)[1];
  const r = spawnSync(join(cluster.bin, "psql"), ["-X", "-q", "-At", "-h", cluster.dir, "-p",
    String(cluster.port), "-U", "postgres", "-d", db, "-c", sql], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function newDb() {
  const db = `migtest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  psql(cluster.url("postgres"), `CREATE DATABASE ${db}`);
  return cluster.url(db);
}

// The backends as the tests see them: how to run migrate, read and bump the version.
const backends = {
  sqlite: (dir) => ({
    args: ["--data", dir],
    version: () => Number(sqlite(dir, "SELECT MAX(version) FROM schema_migrations")),
    bump: (v) => sqlite(dir, `INSERT INTO schema_migrations VALUES(${v})`),
  }),
  postgres: (dir, url = newDb()) => ({
    url,
    args: ["--data", dir, "--database-url", url],
    version: () => Number(psql(url, "SELECT MAX(version) FROM schema_migrations")),
    bump: (v) => psql(url, `INSERT INTO schema_migrations VALUES(${v})`),
  }),
};

for (const [name, make] of Object.entries(backends)) {
  test(`${name}: migrate applies the schema and exits, twice is a no-op, a node then starts on it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "triggerd-migrate-"));
    try {
      const b = make(dir);
      const r = triggerd(["migrate", ...b.args]);
      assert.equal(r.status, 0, r.stderr);
      const m = r.stdout.match(/schema at version (\d+)/);
      assert.ok(m, r.stdout);
      const v = Number(m[1]);
      assert.ok(v >= 20, `version ${v}`);
      assert.equal(b.version(), v);
      if (name === "sqlite") assert.ok(existsSync(join(dir, "triggerd.db")));
      const again = triggerd(["migrate", ...b.args]);
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`schema at version ${v}\\b`));
      // migrate made no project: the first node bootstraps as usual
      const srv = await startTriggerd({ dataDir: dir, keepData: true,
        args: b.url ? ["--database-url", b.url] : [] });
      try {
        assert.equal((await api(srv, "GET", "/api/v1/projects/x/runs")).status < 500, true);
        assert.equal((await api(srv, "POST", "/api/v1/tasks/migrated/trigger", { body: { payload: {} } })).status, 200);
      } finally {
        await srv.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${name}: a node refuses a database migrated by a newer triggerd, and so does migrate`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "triggerd-migrate-"));
    try {
      const b = make(dir);
      assert.equal(triggerd(["migrate", ...b.args]).status, 0);
      const v = b.version();
      b.bump(v + 1); // what a newer binary's `migrate` leaves
      const port = 20000 + Math.floor(Math.random() * 20000);
      const r = triggerd([...b.args, "--listen", `127.0.0.1:${port}`]);
      assert.equal(r.status, 1, `exit ${r.status} ${r.signal}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`schema is version ${v + 1}, newer than this triggerd knows \\(${v}\\)`));
      assert.match(r.stderr, /refusing to start/);
      const m = triggerd(["migrate", ...b.args]);
      assert.equal(m.status, 1);
      assert.match(m.stderr, /newer than this triggerd knows/);
      assert.equal(b.version(), v + 1, "nothing was undone");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
