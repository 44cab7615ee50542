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
  postgresql      # the PostgreSQL backend's tests: scripts/test.sh starts a throwaway server; pgbench, psql: benchmark anchors
  wrk             # HTTP load generator: scripts/bench.sh http, http-large
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# psycopg 3 for the python3 on PATH: the PostgreSQL migration benchmark's
# anchor (scripts/bench/migrate_rename_pg.py). From PyPI with its C speed-ups,
# as a user would run it; where that python3 has no pip (Debian's own), Debian's
# python3-psycopg, which is pure Python (the benchmark prints which one ran).
# Only the benchmark needs it: a failed install warns and goes on.
install_psycopg() {
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages 'psycopg[binary]'
  else
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-psycopg >/dev/null
  fi
}
if ! python3 -c 'import psycopg' 2>/dev/null; then
  echo "setup: installing psycopg for $(command -v python3)"
  install_psycopg || echo "setup: warning: psycopg could not be installed; scripts/bench.sh pg-migrate needs it" >&2
fi

# schemathesis for the python3 on PATH: the tests run it against a live
# `keep serve` and its /api/openapi.json (Tests/KeepCLITests/SchemathesisTests.swift,
# as `python3 -m schemathesis.cli`). From PyPI; where that python3 has no pip
# (Debian's own), Debian's python3-pip first. Nothing is done when it is there.
# A failed install warns here; that test then fails and says why.
install_schemathesis() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
  fi
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages schemathesis
}
if ! python3 -c 'import schemathesis' 2>/dev/null; then
  echo "setup: installing schemathesis for $(command -v python3)"
  install_schemathesis || echo "setup: warning: schemathesis could not be installed; the schemathesis test of keep serve will fail" >&2
fi

# FastAPI on uvicorn (with uvloop and httptools, its fast configuration) for
# the python3 on PATH: the HTTP benchmark's anchor, the reference system's
# stack (scripts/bench/fastapi_sessions.py). From PyPI; where that python3 has
# no pip, Debian's python3-fastapi and python3-uvicorn. Only the benchmark
# needs them: a failed install warns and goes on.
install_fastapi() {
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --break-system-packages \
      fastapi 'uvicorn[standard]'
  else
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-fastapi python3-uvicorn \
      python3-uvloop python3-httptools >/dev/null
  fi
}
if ! python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null; then
  echo "setup: installing fastapi and uvicorn for $(command -v python3)"
  install_fastapi || echo "setup: warning: fastapi and uvicorn could not be installed; scripts/bench.sh http needs them" >&2
fi

if ! command -v swift >/dev/null; then
  echo "setup: Swift 6 is required (swift not found on PATH)" >&2
  exit 1
fi
