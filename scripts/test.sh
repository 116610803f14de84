#!/usr/bin/env bash
# One command from a fresh Debian machine: install, build, run every test:
# unit (Criterion), integration (real binary over HTTP) and compat (the real
# @trigger.dev/sdk, pinned 4.5 and the latest 4.x), then the unit and
# integration suites again on an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh --asan
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

fail=0
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() { echo; echo "=== $*"; }
# Runs a test command, shows its output and adds its pass/fail counts (node's
# "# pass N"/"# fail N", meson's "Ok: N"/"Fail: N") to the totals.
run() {
  local rc=0
  "$@" 2>&1 | tee "$log" || rc=1
  local p f
  p=$(awk '/^# pass /{s+=$3} /^Ok: /{s+=$2} END{print s+0}' "$log")
  f=$(awk '/^# fail /{s+=$3} /^Fail: /{s+=$2} END{print s+0}' "$log")
  passed=$((passed + p)); failed=$((failed + f))
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  [ $rc -eq 0 ] || fail=1
}

step "unit tests"
run meson test -C build --suite unit --print-errorlogs

step "integration tests"
run meson test -C build --suite integration --print-errorlogs
run node --test --test-concurrency=1 tests/integration/

step "compat tests (@trigger.dev/sdk 4.5)"
run npm --prefix tests/compat test

step "compat tests (@trigger.dev/sdk latest 4.x)"
TRIGGER_SDK=latest run npm --prefix tests/compat test

step "compat tests: trigger.dev dev CLI 4.5 running tasks"
run npm --prefix tests/compat run test:dev

step "compat tests: trigger.dev dev CLI latest 4.x running tasks"
run npm --prefix tests/compat run test:dev:latest

step "browser tests: @trigger.dev/react-hooks and a useChat chat page in Debian chromium"
run npm --prefix tests/browser test

step "integration and compat tests on PostgreSQL (one cluster for the pass, docs/store.md)"
eval "$(node tests/lib/pg-cluster.mjs start)"
trap 'rm -f "$log"; node tests/lib/pg-cluster.mjs stop "$TRIGGERD_PG_DIR"' EXIT
# the files that pass on PostgreSQL (all of them today; pg.test.mjs runs in the pass above)
pg_integration=$(ls tests/integration/*.test.mjs | grep -v '/pg.test.mjs$')
TRIGGERD_STORE=pg run node --test --test-concurrency=1 $pg_integration
TRIGGERD_STORE=pg run npm --prefix tests/compat test

step "unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run meson test -C build-asan --suite unit --print-errorlogs

step "integration tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run meson test -C build-asan --suite integration --print-errorlogs
TRIGGERD_BIN="$PWD/build-asan/triggerd" ASAN_OPTIONS=detect_leaks=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run node --test --test-concurrency=1 tests/integration/

echo
echo "$passed passed, $failed failed"
[ $fail -eq 0 ]
