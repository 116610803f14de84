#!/usr/bin/env bash
# Builds build/triggerd (and, with --asan, build-asan/ with ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build
if [ "${1:-}" = "--asan" ]; then
  [ -d build-asan ] || meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
  ninja -C build-asan
fi
