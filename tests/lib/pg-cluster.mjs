// tests/lib/pg-cluster.mjs - a test PostgreSQL cluster for a whole test pass
// (scripts/test.sh): `start` prints the TRIGGERD_PG_URL of a fresh cluster
// and its dir; `stop DIR` stops it and removes the dir.
//
//   eval "$(node tests/lib/pg-cluster.mjs start)"   # sets TRIGGERD_PG_URL, TRIGGERD_PG_DIR
//   node tests/lib/pg-cluster.mjs stop "$TRIGGERD_PG_DIR"
import { startCluster, stopClusterDir } from "./pg.mjs";

const [cmd, dir] = process.argv.slice(2);
if (cmd === "start") {
  const c = await startCluster({ watchdog: false }); // outlives this process
  console.log(`export TRIGGERD_PG_URL='${c.url("postgres")}' TRIGGERD_PG_DIR='${c.dir}'`);
} else if (cmd === "stop" && dir) {
  stopClusterDir(dir);
} else {
  console.error("usage: pg-cluster.mjs start | stop DIR");
  process.exit(2);
}
