#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test. Ends with swift
# test's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Lint the Lua that Keep ships (policies, migrations, fixtures' helpers).
mapfile -t lua_files < <(git ls-files '*.lua' ':!:Tests/Fixtures/hostile/*' 2>/dev/null || true)
if ((${#lua_files[@]} > 0)); then
  luacheck --no-color -q "${lua_files[@]}"
fi

# The CLI tests run the built `keep` binary; the shipped policies' own tests run through it.
swift build --product keep
.build/debug/keep policy test scripts/policies

# The conformance suite runs against SQLite and PostgreSQL: a throwaway server
# for this run, stopped on exit (also on failure).
source scripts/postgres-throwaway.sh
start_throwaway_postgres
swift test
