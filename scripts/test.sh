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

fail=0
step() { echo; echo "=== $*"; }

step "unit tests"
meson test -C build --suite unit --print-errorlogs || fail=1

step "integration tests"
node --test --test-concurrency=1 tests/integration/ || fail=1

step "compat tests (@trigger.dev/sdk 4.5)"
(cd tests/compat && npm test) || fail=1

step "compat tests (@trigger.dev/sdk latest 4.x)"
(cd tests/compat && TRIGGER_SDK=latest npm test) || fail=1

step "unit tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs || fail=1

step "integration tests under ASan+UBSan"
TRIGGERD_BIN="$PWD/build-asan/triggerd" ASAN_OPTIONS=detect_leaks=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node --test --test-concurrency=1 tests/integration/ || fail=1

echo
if [ $fail -ne 0 ]; then echo "SOME TESTS FAILED"; exit 1; fi
echo "ALL TESTS PASSED"
