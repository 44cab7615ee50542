#!/usr/bin/env bash
# Installs the Debian packages Keep needs when they are missing. Safe to run
# again: it does nothing when everything is there.
set -euo pipefail

packages=(
  pkg-config      # finds Lua and libedit for the system-library targets
  liblua5.4-dev   # Lua 5.4 headers and library (the embedded interpreter)
  libedit-dev     # line editing and history for the REPL (the CEditLine target)
  lua5.4          # standalone interpreter: benchmark anchor
  lua-cjson       # JSON for the standalone interpreter: benchmark anchor
  lua-check       # luacheck, run on the shipped Lua scripts
  python3         # benchmark anchor: the migration a user would write in Python
  postgresql      # the PostgreSQL backend's tests: scripts/test.sh starts a throwaway server
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
  echo "setup: Swift 6 is required (swift not found on PATH)" >&2
  exit 1
fi
