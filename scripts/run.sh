#!/usr/bin/env bash
# One command from a fresh Debian machine: install, build, start triggerd on
# its embedded default (SQLite + a local object folder under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
exec build/triggerd --listen "${TRIGGERD_LISTEN:-127.0.0.1:3030}" --data "${TRIGGERD_DATA:-./data}" "$@"
