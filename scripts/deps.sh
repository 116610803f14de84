#!/usr/bin/env bash
# Installs what triggerd needs to build and test, from Debian's packages and
# npm. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config meson ninja-build libh2o-dev libuv1-dev libjansson-dev
      libsqlite3-dev sqlite3 libpq-dev postgresql libjwt-dev libssl-dev libnghttp2-dev libwslay-dev libcurl4-openssl-dev libcriterion-dev libicu-dev tzdata chromium nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a node from elsewhere (nvm, the image) is fine: only ask apt for it when absent
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
