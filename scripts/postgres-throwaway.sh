#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test run (sourced by scripts/test.sh):
# `start_throwaway_postgres` initializes a cluster in a temporary folder, starts
# it on a free port of 127.0.0.1 with durability off (a test server loses
# nothing that matters), creates the role and database `keep`, exports
# KEEP_TEST_POSTGRES_URL, and stops the server and removes the folder when the
# calling shell exits, whether the tests passed or not.
#
# PostgreSQL refuses to run as root: as root, the server runs as the `postgres`
# user that Debian's package creates.

start_throwaway_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres-throwaway: no PostgreSQL server binaries under /usr/lib/postgresql (scripts/setup.sh installs them)" >&2
    return 1
  fi

  PG_THROWAWAY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/keep-pg.XXXXXX")
  PG_THROWAWAY_BIN=$bin
  PG_THROWAWAY_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$PG_THROWAWAY_DIR"
    PG_THROWAWAY_AS=(runuser -u postgres --)
  fi
  trap stop_throwaway_postgres EXIT

  local password=keep-test port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$password" >"$PG_THROWAWAY_DIR/pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_THROWAWAY_DIR/pwfile"

  "${PG_THROWAWAY_AS[@]}" "$bin/initdb" -D "$PG_THROWAWAY_DIR/data" -U postgres --pwfile="$PG_THROWAWAY_DIR/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$PG_THROWAWAY_DIR/initdb.log" 2>&1 || {
    cat "$PG_THROWAWAY_DIR/initdb.log" >&2
    return 1
  }
  # Every test opens a pool of its own (up to 4 connections), many at once.
  "${PG_THROWAWAY_AS[@]}" "$bin/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $PG_THROWAWAY_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500" \
    start >/dev/null || {
    cat "$PG_THROWAWAY_DIR/server.log" >&2
    return 1
  }
  "${PG_THROWAWAY_AS[@]}" "$bin/psql" -q -h "$PG_THROWAWAY_DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE keep LOGIN PASSWORD '$password'" -c "CREATE DATABASE keep OWNER keep" >/dev/null

  export KEEP_TEST_POSTGRES_URL="postgres://keep:$password@127.0.0.1:$port/keep?sslmode=disable"
  echo "postgres-throwaway: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $PG_THROWAWAY_DIR)"
}

stop_throwaway_postgres() {
  if [ -n "${PG_THROWAWAY_DIR:-}" ] && [ -d "$PG_THROWAWAY_DIR/data" ]; then
    "${PG_THROWAWAY_AS[@]}" "$PG_THROWAWAY_BIN/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "${PG_THROWAWAY_DIR:-}" ]; then rm -rf "$PG_THROWAWAY_DIR"; fi
  PG_THROWAWAY_DIR=
}
