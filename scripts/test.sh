#!/usr/bin/env bash
# One command from a fresh Debian machine: install, build, run every test:
# unit (Criterion), integration (real binary over HTTP) and compat (the real
# @trigger.dev/sdk, pinned 4.5 and the latest 4.x), browser (chromium), then
# the unit and integration suites again on an ASan+UBSan build.
#
# The suites run in five lanes at once (the C binary's suites, the SDK and
# browser suites, the dev-CLI suites of 4.5 and of the latest 4.x, the
# integration and SDK suites on PostgreSQL): every test starts its own triggerd on
# a free port with its own data dir, so lanes share nothing but the CPU.
# Each lane's output is shown whole when it ends, with a line per step as
# it finishes. TEST_SERIAL=1 runs the lanes one after another.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --asan
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/s3 && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/compat && npm --prefix dev/fixture ci --no-audit --no-fund --loglevel=error &&
  npm --prefix dev/fixture-latest ci --no-audit --no-fund --loglevel=error)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
asan_env=(ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1)

# failures LOG: each failed node test of LOG with its diagnostics (TODO and
# SKIP left out), and meson's failed lines; the log's tail if neither shows.
failures() {
  local found
  found=$(awk '
    /^ *not ok [0-9]+ / && !/# (TODO|SKIP)/ { grab = 1; n = 0; ind = match($0, /[^ ]/) }
    grab { print; n++; if ((n > 1 && $0 ~ /^ *\.\.\.$/ && match($0, /[^ ]/) == ind + 2) || n >= 80) grab = 0 }
    /^[0-9]+\/[0-9]+ .* (FAIL|TIMEOUT) / { print }
  ' "$1")
  if [ -n "$found" ]; then echo "$found"; else tail -n 40 "$1"; fi
}

# run LANE NAME CMD...: runs a test command into the lane's log and appends
# its pass/fail counts (node's "# pass N"/"# fail N", meson's "Ok: N"/"Fail: N")
# to the lane's tally; a command that fails without a counted failure counts one.
run() {
  local lane=$1 name=$2; shift 2
  local log="$out/$lane.step" rc=0 t0=$SECONDS
  { echo; echo "=== $name"; } >>"$out/$lane.log"
  "$@" >"$log" 2>&1 || rc=1
  cat "$log" >>"$out/$lane.log"
  local p f
  p=$(awk '/^# pass /{s+=$3} /^Ok: /{s+=$2} END{print s+0}' "$log")
  f=$(awk '/^# fail /{s+=$3} /^Fail: /{s+=$2} END{print s+0}' "$log")
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "$p $f" >>"$out/$lane.tally"
  if [ $rc -ne 0 ] || [ "$f" -ne 0 ]; then
    { echo "=== [$lane] $name"; failures "$log"; } >>"$out/failures"
  fi
  printf '[%s] %s: %s passed, %s failed, %ss\n' "$lane" "$name" "$p" "$f" $((SECONDS - t0))
}

lane_c() {
  run c "unit tests" meson test -C build --suite unit --print-errorlogs
  run c "integration tests (meson)" meson test -C build --suite integration --print-errorlogs
  run c "integration tests" node --test --test-concurrency=1 tests/integration/
  run c "unit tests under ASan+UBSan" env "${asan_env[@]}" \
    meson test -C build-asan --suite unit --print-errorlogs
  run c "integration tests (meson) under ASan+UBSan" env "${asan_env[@]}" \
    meson test -C build-asan --suite integration --print-errorlogs
  run c "integration tests under ASan+UBSan" env TRIGGERD_BIN="$PWD/build-asan/triggerd" \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    node --test --test-concurrency=1 tests/integration/
}

lane_sdk() {
  run sdk "compat tests (@trigger.dev/sdk 4.5)" npm --prefix tests/compat test
  run sdk "compat tests (@trigger.dev/sdk latest 4.x)" env TRIGGER_SDK=latest npm --prefix tests/compat test
  run sdk "browser tests: @trigger.dev/react-hooks, a useChat chat page and the dashboard in Debian chromium" \
    npm --prefix tests/browser test
}

lane_cli45() {
  run cli45 "compat tests: trigger.dev dev CLI 4.5 running tasks" \
    bash -c 'cd tests/compat && node --test --test-concurrency=1 dev/*.test.mjs'
}

lane_cli48() {
  run cli48 "compat tests: trigger.dev dev CLI latest 4.x running tasks" env TRIGGER_SDK=latest \
    bash -c 'cd tests/compat && node --test --test-concurrency=1 dev/*.test.mjs'
}

# The store on PostgreSQL (docs/store.md): one cluster for the lane, a
# database per triggerd; the integration files (but pg.test.mjs and
# migrate.test.mjs, which start their own cluster and already ran in lane c)
# and the SDK 4.5 compat suite (s3.test.mjs there: S3 objects on PostgreSQL).
# The nodes*.test.mjs files (many triggerd nodes on one database; they skip
# themselves in lane c, off PostgreSQL) run here with the other files.
lane_pg() {
  eval "$(node tests/lib/pg-cluster.mjs start)"
  local files
  files=$(ls tests/integration/*.test.mjs | grep -v -e '/pg.test.mjs$' -e '/migrate.test.mjs$')
  run pg "integration tests on PostgreSQL" env TRIGGERD_STORE=pg \
    node --test --test-concurrency=1 $files
  # two nodes on one database: the SDK talks to one, the tests' workers to the other
  run pg "compat tests (@trigger.dev/sdk 4.5) on PostgreSQL, two nodes" env TRIGGERD_STORE=pg \
    TRIGGERD_NODES=2 npm --prefix tests/compat test
  run pg "compat tests: trigger.dev dev CLI 4.5 push channel on the other node of two" \
    env TRIGGERD_STORE=pg TRIGGERD_NODES=2 bash -c 'cd tests/compat && node --test dev/push.test.mjs'
  node tests/lib/pg-cluster.mjs stop "$TRIGGERD_PG_DIR"
}

lanes=(c sdk cli45 cli48 pg)
t0=$SECONDS
if [ "${TEST_SERIAL:-0}" = 1 ]; then
  for l in "${lanes[@]}"; do "lane_$l"; done
else
  pids=()
  for l in "${lanes[@]}"; do "lane_$l" & pids+=($!); done
  wait "${pids[@]}" || true
fi

passed=0 failed=0
for l in "${lanes[@]}"; do
  echo; echo "##### lane $l"; cat "$out/$l.log"
  while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done <"$out/$l.tally"
done
if [ -s "$out/failures" ]; then
  echo; echo "##### what failed (the whole output is above, lane by lane)"; cat "$out/failures"
fi
echo
echo "$passed passed, $failed failed, $(( (SECONDS - t0) / 60 )) min"
[ "$failed" -eq 0 ]
