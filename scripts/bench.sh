#!/usr/bin/env bash
# Benchmarks in release mode. Every figure is printed next to its anchor
# measured in the same run (these machines are shared and noisy: compare the
# ratios).
#
# Usage: scripts/bench.sh [ROUNDS] [SECTION...]
#   ROUNDS    rounds of each measurement; the tables show medians (default 5)
#   SECTION   any of the sections below, run in the order given (default: all)
#     swift       KeepBench's tables: Lua bridge, store, policies, working copies
#     json        json.decode/encode of a 1.5 MiB document vs lua-cjson
#     repl        `keep repl` start-up vs `lua5.4 -e ''`
#     migrate     a migration over 100,000 sessions in SQLite vs Python (sqlite3)
#     copy        keep db copy SQLite → PostgreSQL vs psql \copy
#     pg-crud     session create/get/update one at a time on PostgreSQL vs pgbench,
#                 and vs the same statements through PostgresNIO alone
#     pg-jobs     10,000 mark_logs_deleted jobs drained by 3 `keep jobs work` processes
#     pg-migrate  the migration on PostgreSQL vs Python (psycopg)
#     http        keep serve: GET a session's metadata, PUT 10 KB content (wrk) vs
#                 FastAPI + uvicorn over the same SQLite file, and vs a bare Hummingbird route
#     http-large  keep serve: GET a 1.4 MiB session, median and p99 latency (wrk, one connection)
#   The copy and pg-* sections run on a throwaway PostgreSQL server of this run
#   (scripts/postgres-throwaway.sh), stopped on exit. The http sections start
#   each server on a free loopback port, wait until it answers, and stop it on exit.
#
# Environment:
#   KEEP_BENCH_NO_BUILD=1  build nothing: measure the binaries that are there
#   KEEP_BIN=PATH          the release `keep` to measure (default .build/release/keep);
#                          KeepBench is taken from the same folder. With another
#                          checkout's binary, set KEEP_BENCH_NO_BUILD=1 too, e.g.
#                          KEEP_BENCH_NO_BUILD=1 KEEP_BIN=../main/.build/release/keep scripts/bench.sh 3 pg-crud
#                          The http section's HTTPCeiling and the pg-crud section's
#                          PostgresNIOAlone are taken from the same folder.
#   KEEP_BENCH_HTTP_SECONDS=N  how long each wrk run of the http sections lasts (default 10)
# Whichever binary runs, it runs with this checkout's scripts/policies.
set -euo pipefail
cd "$(dirname "$0")/.."

all_sections=(swift json repl migrate copy pg-crud pg-jobs pg-migrate http http-large)
rounds=5
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  rounds=$1
  shift
fi
sections=("$@")
if ((${#sections[@]} == 0)); then sections=("${all_sections[@]}"); fi
for section in "${sections[@]}"; do
  if [[ " ${all_sections[*]} " != *" $section "* ]]; then
    echo "bench.sh: no section '$section'; the sections are ${all_sections[*]}" >&2
    exit 2
  fi
done
wants() { [[ " ${sections[*]} " == *" $1 "* ]]; }

scripts/setup.sh
keep="${KEEP_BIN:-.build/release/keep}"
keep_bench="$(dirname "$keep")/KeepBench"
keep_ceiling="$(dirname "$keep")/HTTPCeiling"
keep_nio_alone="$(dirname "$keep")/PostgresNIOAlone"
if [ "${KEEP_BENCH_NO_BUILD:-}" != 1 ]; then
  if [[ " ${sections[*]} " != " swift " ]]; then swift build -c release --product keep >&2; fi
  if wants swift; then swift build -c release --product KeepBench >&2; fi
  if wants http; then swift build -c release --product HTTPCeiling >&2; fi
  if wants pg-crud; then swift build -c release --product PostgresNIOAlone >&2; fi
fi
if [[ " ${sections[*]} " != " swift " ]] && [ ! -x "$keep" ]; then
  echo "bench.sh: no keep binary at $keep (build it, or name one with KEEP_BIN)" >&2
  exit 1
fi
export KEEP_POLICIES="$PWD/scripts/policies"
export KEEP_USER=bench  # `keep run` and `keep repl` refuse to guess a user
work="$(mktemp -d)"
# What a section started (servers, the throwaway PostgreSQL) is stopped on
# any exit, a failure or Ctrl-C included.
server_pids=()
pg_started=
cleanup() {
  if ((${#server_pids[@]} > 0)); then stop_servers; fi
  if [ -n "$pg_started" ]; then stop_postgres_only; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now_ms() { date +%s%3N; }
# EPOCHREALTIME (bash 5) times each run without starting a clock process.
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
# A table's first two lines: what is measured, Keep's column, the anchor's.
table_head() {
  echo "| $1 | $2 | $3 | ratio | target |"
  echo "|---|---|---|---|---|"
}
printed=0
header() {
  if ((printed)); then echo; fi
  printed=1
  echo "## $1"
  echo
}

# 100,000 small sessions in SQLite (scripts/bench/small_sessions.lua): what the
# migration and copy benchmarks start from; made once per run.
seed_sessions() {
  [ -f "$work/seed.sqlite" ] && return
  "$keep" --db "$work/seed.sqlite" --user bench run scripts/bench/small_sessions.lua 100000 >/dev/null
  mkdir -p "$work/migrations"
  cp scripts/migrations/0001_rename_map_view.lua "$work/migrations/"
}

# The throwaway server, started by the first section that needs it.
pg_url=
start_postgres() {
  [ -n "$pg_url" ] && return
  source scripts/postgres-throwaway.sh
  # Its start sets `trap stop_throwaway_postgres EXIT` (before anything can
  # fail): let that name the whole clean-up, servers included.
  eval "$(declare -f stop_throwaway_postgres | sed '1s/^stop_throwaway_postgres/stop_postgres_only/')"
  stop_throwaway_postgres() { cleanup; }
  pg_started=1
  start_throwaway_postgres >&2
  pg_url="$KEEP_TEST_POSTGRES_URL"
  pg_plain="${pg_url%%\?*}"
  pg_version=$(psql -At "$pg_plain" -c "SHOW server_version" | cut -d" " -f1)
}
pg_settings() {
  echo "Server: the run's throwaway PostgreSQL $pg_version on 127.0.0.1 (TCP), fsync=off, synchronous_commit=off, full_page_writes=off: the same for both columns."
}

bench_swift() {
  if [ ! -x "$keep_bench" ]; then
    header "KeepBench"
    echo "Skipped: no $keep_bench (swift build -c release --product KeepBench)."
    return
  fi
  if ((printed)); then echo; fi
  "$keep_bench"
  printed=1
}

bench_json() {
  header "JSON: 1.5 MiB session document, keep vs lua-cjson in lua5.4 (median ms; $rounds interleaved rounds of 21 runs)"
  "$keep" run scripts/bench/session_document.lua "$work/session.json" >/dev/null
  for _ in $(seq "$rounds"); do
    "$keep" run scripts/bench/json.lua "$work/session.json" >>"$work/keep.txt"
    lua5.4 scripts/bench/json.lua "$work/session.json" >>"$work/cjson.txt"
  done
  local keep_decode keep_encode cjson_decode cjson_encode bytes
  keep_decode=$(cut -d' ' -f1 "$work/keep.txt" | median)
  keep_encode=$(cut -d' ' -f2 "$work/keep.txt" | median)
  cjson_decode=$(cut -d' ' -f1 "$work/cjson.txt" | median)
  cjson_encode=$(cut -d' ' -f2 "$work/cjson.txt" | median)
  bytes=$(cut -d' ' -f3 "$work/keep.txt" | head -1)
  table_head "benchmark ($bytes bytes)" "keep" "lua-cjson"
  awk -v k="$keep_decode" -v c="$cjson_decode" 'BEGIN { printf "| json.decode | %.2f ms | %.2f ms | %.2f× | ≤ 2× |\n", k, c, k / c }'
  awk -v k="$keep_encode" -v c="$cjson_encode" 'BEGIN { printf "| json.encode (compact, sorted keys) | %.2f ms | %.2f ms | %.2f× | ≤ 2× |\n", k, c, k / c }'
}

bench_repl() {
  header "REPL start-up: \`keep repl\` on empty piped input vs \`lua5.4 -e ''\` (median ms of $((rounds * 21)) interleaved runs)"
  : >"$work/repl.txt"
  : >"$work/lua.txt"
  local start end repl_start lua_start
  for _ in $(seq $((rounds * 21))); do
    start=$EPOCHREALTIME
    printf '' | "$keep" repl --norc --db "$work/startup.sqlite" >/dev/null
    end=$EPOCHREALTIME
    elapsed_ms "$start" "$end" >>"$work/repl.txt"
    start=$EPOCHREALTIME
    printf '' | lua5.4 -e '' >/dev/null
    end=$EPOCHREALTIME
    elapsed_ms "$start" "$end" >>"$work/lua.txt"
  done
  repl_start=$(median <"$work/repl.txt")
  lua_start=$(median <"$work/lua.txt")
  table_head "benchmark" "keep" "lua5.4"
  awk -v k="$repl_start" -v l="$lua_start" 'BEGIN { printf "| start-up, empty piped input | %.1f ms | %.1f ms | %.1f× | < 100 ms |\n", k, l, k / l }'
}

# The migration's table: WHERE, Keep's times (ms, a line a round), the
# anchor's name and its times.
migration_table() {
  local keep_ms python_ms
  keep_ms=$(median <"$2")
  python_ms=$(median <"$4")
  table_head "benchmark" "keep" "$3"
  awk -v where="$1" -v k="$keep_ms" -v p="$python_ms" 'BEGIN { printf "| rename a module in 100,000 sessions%s (whole run, wall) | %.0f docs/s (%.1f s) | %.0f docs/s (%.1f s) | %.2f× | ≥ 2× |\n", where, 100000000 / k, k / 1000, 100000000 / p, p / 1000, p / k }'
}

bench_migrate() {
  header "Migrations: 100,000 small sessions, keep migrate up vs Python (sqlite3 + json) (median docs/s; $rounds rounds)"
  seed_sessions
  local round start same
  for round in $(seq "$rounds"); do
    rm -f "$work/keep.sqlite"* "$work/python.sqlite"*  # no write-ahead log of the last round
    cp "$work/seed.sqlite" "$work/keep.sqlite"
    cp "$work/seed.sqlite" "$work/python.sqlite"
    start=$(now_ms)
    "$keep" --db "$work/keep.sqlite" migrate up --dir "$work/migrations" --json >/dev/null
    echo $(($(now_ms) - start)) >>"$work/keep-migrate.txt"
    start=$(now_ms)
    python3 scripts/bench/migrate_rename.py "$work/python.sqlite" >/dev/null
    echo $(($(now_ms) - start)) >>"$work/python-migrate.txt"
    if [ "$round" = 1 ]; then
      # The same transformation: the two stores must hold the same documents.
      same=$(python3 -c '
import sqlite3, sys
rows = lambda path: sqlite3.connect(path).execute("SELECT id, content, hash, version FROM sessions ORDER BY id").fetchall()
print("yes" if rows(sys.argv[1]) == rows(sys.argv[2]) else "NO")' "$work/keep.sqlite" "$work/python.sqlite")
    fi
  done
  migration_table "" "$work/keep-migrate.txt" "python3" "$work/python-migrate.txt"
  echo
  echo "Same documents, hashes and versions in both stores: $same. Keep also keeps a rollback patch, a checkpoint per batch and a lease lock."
}

bench_copy() {
  header "Copying a database: 100,000 small sessions, keep db copy SQLite → PostgreSQL vs psql \\copy of the same rows as CSV (median docs/s; $rounds rounds)"
  seed_sessions
  start_postgres
  sqlite3 -csv "$work/seed.sqlite" "SELECT id, owner, title, title_key, description, content, hash, version, created_at, updated_at FROM sessions" >"$work/sessions.csv"
  local round start copied keep_ms psql_ms
  for round in $(seq "$rounds"); do
    start=$(now_ms)
    "$keep" db copy "$work/seed.sqlite" "$pg_url&schema=copy_$round" --batch-size 1000 --json >"$work/copy.json"
    echo $(($(now_ms) - start)) >>"$work/keep-copy.txt"
    # The anchor: the server's bulk path for the same rows, one COPY into a plain table.
    psql -q "$pg_plain" -v ON_ERROR_STOP=1 -c "CREATE TABLE anchor_$round (id text, owner text, title text, title_key text, description text, content text, hash text, version bigint, created_at bigint, updated_at bigint)" >/dev/null
    start=$(now_ms)
    psql -q "$pg_plain" -v ON_ERROR_STOP=1 -c "\\copy anchor_$round FROM '$work/sessions.csv' WITH (FORMAT csv)" >/dev/null
    echo $(($(now_ms) - start)) >>"$work/psql-copy.txt"
  done
  copied=$(python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(sum(t["rows"] for t in r["tables"] if t["table"] == "sessions"))' "$work/copy.json")
  keep_ms=$(median <"$work/keep-copy.txt")
  psql_ms=$(median <"$work/psql-copy.txt")
  table_head "benchmark" "keep db copy" "psql \\copy (CSV)"
  awk -v k="$keep_ms" -v p="$psql_ms" -v n="$copied" 'BEGIN { printf "| %d sessions SQLite → PostgreSQL (whole run, wall, with verification) | %.0f docs/s (%.1f s) | %.0f docs/s (%.1f s) | %.2f× | docs/s |\n", n, n * 1000 / k, k / 1000, n * 1000 / p, p / 1000, k / p }'
  echo
  echo "keep db copy writes typed rows in committed, resumable batches and then counts and digests every table on both sides; the anchor loads text into a table without keys or indexes. $(pg_settings)"
}

bench_pg_crud() {
  local count=2000
  header "Small sessions on PostgreSQL: create, get, update one at a time, keep run (Lua API) vs pgbench -M prepared, one client, and vs PostgresNIO alone (median ops/s; $rounds rounds of $count each)"
  if [ ! -x "$keep_nio_alone" ]; then
    echo "bench.sh: no $keep_nio_alone (swift build -c release --product PostgresNIOAlone)" >&2
    exit 1
  fi
  start_postgres
  # The documents: a small session as Keep stores it (canonical JSON), and the
  # same with its map module renamed, for the updates.
  "$keep" --db "$work/crud-doc.sqlite" --user bench run scripts/bench/small_sessions.lua 1 >/dev/null
  sqlite3 "$work/crud-doc.sqlite" "SELECT writefile('$work/create.json', content) FROM sessions" >/dev/null
  sed 's/MapView/GeoMap/g' "$work/create.json" >"$work/update.json"
  local bytes create_hex create_hash update_hash title_hex key_hex
  bytes=$(wc -c <"$work/create.json")
  create_hex=$(od -An -v -tx1 "$work/create.json" | tr -d ' \n')
  create_hash=$(sha256sum <"$work/create.json" | cut -d' ' -f1)
  update_hash=$(sha256sum <"$work/update.json" | cut -d' ' -f1)
  title_hex=$(printf 'Well study' | od -An -v -tx1 | tr -d ' \n')
  key_hex=$(printf 'well study' | od -An -v -tx1 | tr -d ' \n')
  # pgbench's statements: Keep's statements, each its own transaction, with
  # every value Keep binds bound as a parameter too (-M prepared turns each
  # :variable into one), on random ids (pgbench's variables). They differ
  # only where pgbench cannot follow: Keep's UPDATE sets version = $8 and
  # returns it, pgbench's sets version + 1 and returns nothing. pgbench talks
  # text where Keep talks binary: the documents go in bytea's escape format
  # (about as many bytes as binary) and come back in hex (twice as many), a
  # little more work on pgbench's side. The inserts' ids are new; reads and
  # updates pick among $count rows stored beforehand ('q1'…), at random with
  # replacement. The clock (:now, kept per client between transactions)
  # advances with every transaction, as Keep's does, and every pgbench run
  # starts past the last one's: an update that left updated_at alone would
  # change no indexed column, and PostgreSQL would make it a HOT update (no
  # index entries), which Keep's updates here never are (measured: 39% of
  # pgbench's updates were HOT with a fixed :now, 7% more updates per second).
  local escape='import sys; sys.stdout.write("".join(chr(b) if 32 <= b < 127 and b != 92 else "\\%03o" % b for b in open(sys.argv[1], "rb").read()))'
  local defines=(-D owner=bench -D "title=Well study" -D "key=well study" -D "doc=$(python3 -c "$escape" "$work/create.json")"
    -D "hash=$create_hash" -D "udoc=$(python3 -c "$escape" "$work/update.json")" -D "uhash=$update_hash")
  cat >"$work/insert.sql" <<EOF
\\set n random(1, 1000000000000000)
\\set now :now + 1
INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
  VALUES ('p' || :n, :owner, :title, :key, NULL, :doc, :hash, 1, :now, :now);
EOF
  cat >"$work/select.sql" <<EOF
\\set n random(1, $count)
SELECT id, owner, title, description, content, hash, version, created_at, updated_at FROM sessions
  WHERE owner = :owner AND id = 'q' || :n;
EOF
  local update="UPDATE sessions SET title = :title, title_key = :key, description = NULL,
  content = :udoc, hash = :uhash, version = version + 1, updated_at = :now
  WHERE owner = :owner AND id = 'q' || :n;"
  printf '\\set n random(1, %d)\n\\set now :now + 1\n%s\n' "$count" "$update" >"$work/update.sql"
  # Keep's own statements for an update: the row is read (no lock), then
  # written only if still at the version read (\gset keeps it in :v).
  printf '\\set n random(1, %d)\n\\set now :now + 1\n%s\n%s\n' "$count" \
    "SELECT id, owner, title, description, content, hash, version AS v, created_at, updated_at FROM sessions WHERE owner = :owner AND id = 'q' || :n \\gset" \
    "${update%;} AND version = :v;" >"$work/update_read_write.sql"
  local round schema op clock=1764900000000
  for round in $(seq "$rounds"); do
    "$keep" --db "$pg_url&schema=crud_keep_$round" --user bench run scripts/bench/session_crud.lua "$count" \
      "$work/create.json" "$work/update.json" >>"$work/crud-keep.txt"
    # The same statements through the driver alone, on Keep's table (made by keep).
    "$keep" --db "$pg_url&schema=crud_driver_$round" --user bench run -e 'keep.sessions.list {}'
    "$keep_nio_alone" "$pg_url&schema=crud_driver_$round" "$count" "$work/create.json" "$create_hash" \
      "$work/update.json" "$update_hash" >>"$work/crud-driver.txt"
    # pgbench works on Keep's own table (its keys and indexes), in a schema of its own.
    schema="crud_pgbench_$round"
    "$keep" --db "$pg_url&schema=$schema" --user bench run -e 'keep.sessions.list {}'
    for op in insert select update_read_write update; do
      if [ "$op" = select ]; then
        PGOPTIONS="-c search_path=$schema" psql -q "$pg_plain" -v ON_ERROR_STOP=1 -c "
          INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
          SELECT 'q' || g, 'bench', '\\x$title_hex', '\\x$key_hex', NULL, '\\x$create_hex', '$create_hash', 1, 1764900000000, 1764900000000
          FROM generate_series(1, $count) g" >/dev/null
      fi
      clock=$((clock + count))
      PGOPTIONS="-c search_path=$schema" pgbench -n -M prepared -c 1 -t "$count" "${defines[@]}" -D "now=$clock" -f "$work/$op.sql" "$pg_url" |
        awk '/^tps = / { printf "%s ", $3 }'
    done >>"$work/crud-pgbench.txt"
    echo >>"$work/crud-pgbench.txt"
  done
  table_head "operation, one at a time ($bytes-byte document)" "keep" "pgbench"
  local row name k p target
  for row in 1 2 3 4; do
    name=$(echo "create: INSERT|get: SELECT by key|update: SELECT by key, then UPDATE … WHERE version = the one read (Keep's statements)|update: one UPDATE statement" | cut -d'|' -f"$row")
    k=$(cut -d' ' -f"$((row < 4 ? row : 3))" "$work/crud-keep.txt" | median)
    p=$(cut -d' ' -f"$row" "$work/crud-pgbench.txt" | median)
    # The target compares the same statements; the last row is a blind
    # write, for scale: Keep reads first because the policies see the stored
    # document and the write is conditional on the version read.
    target=$( ((row < 4)) && echo "≥ 0.5×" || echo "— (one statement against Keep's two)")
    awk -v n="$name" -v k="$k" -v p="$p" -v t="$target" 'BEGIN { printf "| %s | %.0f ops/s | %.0f ops/s | %.2f× | %s |\n", n, k, p, k / p, t }'
  done
  echo
  table_head "operation, one at a time" "keep" "PostgresNIO alone"
  local f
  for row in 1 2 3; do
    name=$(echo "create|get|update (read, then write if unchanged)" | cut -d'|' -f"$row")
    k=$(cut -d' ' -f"$row" "$work/crud-keep.txt" | median)
    f=$(cut -d' ' -f"$row" "$work/crud-driver.txt" | median)
    p=$(cut -d' ' -f"$row" "$work/crud-pgbench.txt" | median)
    awk -v n="$name" -v k="$k" -v f="$f" -v p="$p" 'BEGIN { printf "| %s | %.0f ops/s | %.0f ops/s | %.2f× | — (the driver alone: %.2f× pgbench) |\n", n, k, f, k / f, f / p }'
  done
  echo
  # Both sides' updates should write index entries (none HOT): see the clock above.
  local hot
  hot=$(psql -At "$pg_plain" -c "SELECT
      sum(n_tup_hot_upd) FILTER (WHERE schemaname LIKE 'crud_keep_%') || ' of ' || sum(n_tup_upd) FILTER (WHERE schemaname LIKE 'crud_keep_%') || ' for keep, ' ||
      sum(n_tup_hot_upd) FILTER (WHERE schemaname LIKE 'crud_pgbench_%') || ' of ' || sum(n_tup_upd) FILTER (WHERE schemaname LIKE 'crud_pgbench_%') || ' for pgbench'
    FROM pg_stat_user_tables WHERE relname = 'sessions'")
  echo "keep: \`keep run scripts/bench/session_crud.lua\` (keep.sessions.create/get/update with the shipped policies). pgbench: \`pgbench -n -M prepared -c 1 -t $count\` on Keep's own sessions table (its keys and indexes), random ids from pgbench's variables, every value bound as a parameter as Keep binds it, the same document bytes (the same statements, except that Keep's UPDATE sets the version it computed and returns it; pgbench talks text, Keep binary); each statement is its own transaction, and every transaction advances the clock (updated_at) as Keep's does; HOT updates (no index entries written): $hot. PostgresNIO alone (Sources/PostgresNIOAlone): Keep's statements, prepared, on one connection, through the driver's async API with each step on its event loop, nothing of Keep around them: the driver's own cost, where pgbench's is libpq's (keep drives its kept connection from the calling thread, which can come out ahead of it). $(pg_settings)"
}

bench_pg_jobs() {
  local count=10000 workers=3
  header "Jobs on PostgreSQL: $count queued mark_logs_deleted jobs drained by $workers \`keep jobs work --json\` processes, each running 1, 8 or 32 jobs at once (median jobs/s; $rounds rounds)"
  start_postgres
  # Each job marks one other visitor's log of a deleted snapshot. Queued once
  # in SQLite; each round copies them into a fresh schema.
  "$keep" --db "$work/jobs-seed.sqlite" --user bench --jobs queue run scripts/bench/deleted_snapshots.lua "$count" >/dev/null
  local concurrency round run db start deadline pids pid worker status=0 ran_once=yes
  for round in $(seq "$rounds"); do
    for concurrency in 1 8 32; do
      run="$round-$concurrency"
      db="$pg_url&schema=jobs_${round}_$concurrency"
      "$keep" db copy "$work/jobs-seed.sqlite" "$db" --batch-size 5000 --json >/dev/null
      pids=()
      start=$(now_ms)
      for worker in $(seq "$workers"); do
        "$keep" --db "$db" jobs work --json --concurrency "$concurrency" \
          >"$work/jobs-$run-$worker.json" 2>"$work/jobs-$run-$worker.err" &
        pids+=($!)
      done
      # Each line is printed once the job's outcome is stored: the queue is
      # empty when the workers have reported every job done.
      deadline=$(($(now_ms) + 600000))
      while (($(cat "$work/jobs-$run-"*.json | grep -c '"state":"done"') < count)) && (($(now_ms) < deadline)); do
        sleep 0.05
      done
      echo $(($(now_ms) - start)) >>"$work/jobs-$concurrency-ms.txt"
      kill -TERM "${pids[@]}"
      for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
      # Every job the database holds ran exactly once, by one worker, and is
      # done; every visitor's log is marked.
      psql -At "$pg_plain" -c "SELECT id, state FROM jobs_${round}_$concurrency.jobs WHERE kind = 'mark_logs_deleted'" >"$work/jobs-$run-db.txt"
      psql -At "$pg_plain" -c "SELECT count(*) FROM jobs_${round}_$concurrency.access_logs WHERE NOT snapshot_deleted" >>"$work/jobs-$run-db.txt"
      python3 -c '
import collections, json, sys
count, database, reports = int(sys.argv[1]), open(sys.argv[2]).read().split(), sys.argv[3:]
jobs = dict(line.split("|") for line in database[:-1])
attempts = [json.loads(line) for path in reports for line in open(path)]
ran = collections.Counter(a["id"] for a in attempts)
once = len(jobs) == count and all(s == "done" for s in jobs.values()) and database[-1] == "0"
once = once and set(ran) == {int(i) for i in jobs} and all(n == 1 for n in ran.values())
once = once and all(a["state"] == "done" for a in attempts)
sys.exit(0 if once else 1)' "$count" "$work/jobs-$run-db.txt" "$work/jobs-$run-"[0-9]*.json || ran_once=NO
    done
  done
  [ "$status" = 0 ] || ran_once="NO (a worker exited $status)"
  table_head "benchmark" "keep" "anchor"
  local ms
  for concurrency in 1 8 32; do
    ms=$(median <"$work/jobs-$concurrency-ms.txt")
    awk -v ms="$ms" -v n="$count" -v w="$workers" -v c="$concurrency" 'BEGIN { printf "| %d jobs, %d workers × --concurrency %d, from their start to an empty queue | %.0f jobs/s (%.1f s) | not measured | — | ≥ 1,000 jobs/s |\n", n, w, c, n * 1000 / ms, ms / 1000 }'
  done
  echo
  echo "Each job ran exactly once (one \"done\" report, state done in the database) and every log is marked, in every round; the workers exited 0 on SIGTERM: $ran_once."
  echo "Not measured here, for scale only: River reports about 46,000 jobs/s on 8 cores and graphile-worker about 190,000 jobs/s on 24 cores (their own figures, other machines, jobs that do nothing). This machine has $(nproc) cores, shared by the workers, the server and this script."
  echo "$(pg_settings)"
}

bench_pg_migrate() {
  header "Migrations on PostgreSQL: 100,000 small sessions, keep migrate up vs Python (psycopg + json) (median docs/s; $rounds rounds)"
  seed_sessions
  start_postgres
  local round start same
  for round in $(seq "$rounds"); do
    # Both start from the same rows, copied by keep db copy into fresh schemas.
    "$keep" db copy "$work/seed.sqlite" "$pg_url&schema=migrate_keep_$round" --batch-size 5000 --json >/dev/null
    "$keep" db copy "$work/seed.sqlite" "$pg_url&schema=migrate_python_$round" --batch-size 5000 --json >/dev/null
    psql -q "$pg_plain" -c "VACUUM ANALYZE migrate_keep_$round.sessions, migrate_python_$round.sessions"
    start=$(now_ms)
    "$keep" --db "$pg_url&schema=migrate_keep_$round" migrate up --dir "$work/migrations" --json >/dev/null
    echo $(($(now_ms) - start)) >>"$work/keep-pg-migrate.txt"
    start=$(now_ms)
    python3 scripts/bench/migrate_rename_pg.py "$pg_url" "migrate_python_$round" >/dev/null
    echo $(($(now_ms) - start)) >>"$work/python-pg-migrate.txt"
    if [ "$round" = 1 ]; then
      # The same transformation: the two schemas must hold the same documents.
      same=$(psql -At "$pg_plain" -c "
        SELECT CASE WHEN count(*) = 100000 AND count(*) FILTER (WHERE k.content IS DISTINCT FROM p.content
          OR k.hash IS DISTINCT FROM p.hash OR k.version IS DISTINCT FROM p.version) = 0 THEN 'yes' ELSE 'NO' END
        FROM migrate_keep_1.sessions k FULL JOIN migrate_python_1.sessions p USING (owner, id)")
    fi
  done
  migration_table " on PostgreSQL" "$work/keep-pg-migrate.txt" "python3 + psycopg" "$work/python-pg-migrate.txt"
  echo
  echo "Same documents, hashes and versions in both schemas: $same. Keep also keeps a rollback patch, a checkpoint per batch and a lease lock; the Python script (psycopg $(python3 -c 'import psycopg; print(psycopg.__version__, psycopg.pq.__impl__)'), batches of 500 updated in a pipeline) keeps none of them. $(pg_settings)"
}

# ---- HTTP (SPEC §8): keep serve, its anchors, wrk --------------------------
# Every server runs for the whole run on a free port of 127.0.0.1, started by
# the first section that needs it, waited for until it answers, stopped on exit.
http_seconds="${KEEP_BENCH_HTTP_SECONDS:-10}"
http_threads=2      # wrk's threads and connections: sized for this 2-core machine,
http_connections=16 # which the servers and wrk share
http_token=bench-token-0123456789abcdef
http_workers=$(nproc)  # uvicorn worker processes: one a core, as keep serve's event loops
keep_port= fastapi_port= ceiling_port=

# Starts a server in the background, its output in $work/NAME.log.
start_server() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  server_pids+=($!)
}
# Stops every server started: SIGTERM, then SIGKILL after 10 s.
stop_servers() {
  local pid tries
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do
    for tries in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
}
# Fails the run when the server NAME (PID) has exited, or DEADLINE (ms) passed.
still_starting() {
  local reason=
  if ! kill -0 "$2" 2>/dev/null; then reason="exited before it answered"; fi
  if [ -z "$reason" ] && (($(now_ms) > $3)); then reason="did not answer within 2 minutes"; fi
  if [ -n "$reason" ]; then
    echo "bench.sh: $1 $reason; its output:" >&2
    tail -n 20 "$work/$1.log" >&2
    exit 1
  fi
}
# The port NAME (the last server started) names on its start line,
# "listening on http://127.0.0.1:PORT", once it has printed it.
announced_port() {
  local pid=${server_pids[-1]} deadline port
  deadline=$(($(now_ms) + 120000))
  while true; do
    port=$(grep -o -m1 'listening on http://127\.0\.0\.1:[0-9]*' "$work/$1.log" | grep -o '[0-9]*$' || true)
    if [ -n "$port" ]; then
      echo "$port"
      return
    fi
    still_starting "$1" "$pid" "$deadline"
    sleep 0.05
  done
}
# Waits until NAME (the last server started) answers URL with 200.
wait_answering() {
  local pid=${server_pids[-1]} deadline
  deadline=$(($(now_ms) + 120000))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $http_token" "$2" || true)" = 200 ]; do
    still_starting "$1" "$pid" "$deadline"
    sleep 0.05
  done
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# One SQLite file for every server: 1,000 sessions of 10 KB content and one of
# 1.4 MiB (scripts/bench/http_sessions.lua), owned by the token's user.
seed_http() {
  [ -f "$work/http.sqlite" ] && return
  printf '%s bench\n' "$http_token" >"$work/tokens"
  http_bytes=$("$keep" --db "$work/http.sqlite" --user bench run scripts/bench/http_sessions.lua 1000 10240 "HTTP bench" "$work/put.json" | tail -n 1)
  large_bytes=$("$keep" --db "$work/http.sqlite" --user bench run scripts/bench/http_sessions.lua 1 1468006 "Large session" "$work/large-put.json" | tail -n 1)
  sqlite3 "$work/http.sqlite" "SELECT id FROM sessions WHERE title LIKE 'HTTP bench %' ORDER BY id" >"$work/ids"
  sqlite3 "$work/http.sqlite" "SELECT id FROM sessions WHERE title = 'Large session 1'" >"$work/large-id"
}
start_keep_serve() {
  [ -n "$keep_port" ] && return
  seed_http
  start_server keep-serve "$keep" serve --db "$work/http.sqlite" --port 0 --auth-tokens "$work/tokens"
  keep_port=$(announced_port keep-serve)
  wait_answering keep-serve "http://127.0.0.1:$keep_port/api/persistence/sessions/metadata/$(head -n 1 "$work/ids")"
}
start_fastapi() {
  [ -n "$fastapi_port" ] && return
  seed_http
  if ! python3 -c 'import fastapi, uvicorn, uvloop, httptools' 2>/dev/null; then
    echo "bench.sh: the http sections' anchor needs fastapi and uvicorn[standard] for python3 (scripts/setup.sh installs them)" >&2
    exit 1
  fi
  fastapi_port=$(free_port)
  KEEP_BENCH_DB="$work/http.sqlite" KEEP_BENCH_TOKENS="$work/tokens" start_server fastapi \
    python3 -m uvicorn --app-dir scripts/bench fastapi_sessions:app --host 127.0.0.1 --port "$fastapi_port" \
    --workers "$http_workers" --loop uvloop --http httptools
  wait_answering fastapi "http://127.0.0.1:$fastapi_port/api/persistence/sessions/metadata/$(head -n 1 "$work/ids")"
}
start_ceiling() {
  [ -n "$ceiling_port" ] && return
  if [ ! -x "$keep_ceiling" ]; then
    echo "bench.sh: no $keep_ceiling (swift build -c release --product HTTPCeiling)" >&2
    exit 1
  fi
  start_server ceiling "$keep_ceiling" 0
  ceiling_port=$(announced_port ceiling)
  wait_answering ceiling "http://127.0.0.1:$ceiling_port/api/persistence/sessions/metadata/x"
}

# wrk against PORT for SECONDS with THREADS and CONNECTIONS: METHOD on
# PATH_PREFIX + each id of IDS in turn, with the token and BODY (a file) if
# given. Appends "requests/s p50_ms p99_ms" to $work/http-NAME.txt, and any
# answer that is not 2xx or a socket error to $work/http-errors.txt.
run_wrk() {
  local name=$1 port=$2 seconds=$3 threads=$4 connections=$5 result
  shift 5
  wrk -t"$threads" -c"$connections" -d"${seconds}s" -s scripts/bench/wrk_sessions.lua "http://127.0.0.1:$port" \
    -- "$1" "$2" "$3" "$http_token" ${4:+"$4"} >"$work/wrk.out" 2>&1 || { cat "$work/wrk.out" >&2; exit 1; }
  result=$(grep '^wrk-result ' "$work/wrk.out") || { cat "$work/wrk.out" >&2; exit 1; }
  echo "$result" | awk -v name="$name" -v out="$work/http-$name.txt" -v errors="$work/http-errors.txt" '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    printf "%.1f %.3f %.3f\n", v["requests"] / v["seconds"], v["p50_us"] / 1000, v["p99_us"] / 1000 >> out
    if (v["non2xx"] + v["errors"] > 0) printf "%s: %d answers not 2xx, %d socket errors of %d requests\n", name, v["non2xx"], v["errors"], v["requests"] >> errors
  }'
  echo "$result" | sed 's/.*requests=\([0-9]*\).*non2xx=\([0-9]*\).*/\1 \2/' >"$work/wrk.last"
}
# The median of column COLUMN of $work/http-NAME.txt.
http_median() { cut -d' ' -f"$2" "$work/http-$1.txt" | median; }
# Sum of the sessions' versions: what the PUTs stored.
versions() { sqlite3 "$work/http.sqlite" "SELECT sum(version) FROM sessions"; }
# A table row: LABEL, Keep's and the anchor's runs, the target ratio (≥).
http_row() {
  awk -v label="$1" -v target="$4" -v kr="$(http_median "$2" 1)" -v k99="$(http_median "$2" 3)" \
    -v ar="$(http_median "$3" 1)" -v a99="$(http_median "$3" 3)" 'BEGIN {
      printf "| %s | %.0f req/s, p99 %.1f ms | %.0f req/s, p99 %.1f ms | %.2f× | ≥ %s× |\n", label, kr, k99, ar, a99, kr / ar, target }'
}
http_errors_note() {
  if [ -s "$work/http-errors.txt" ]; then
    echo "Answers that were not 2xx, or socket errors (these runs' figures count them as requests):"
    sed 's/^/- /' "$work/http-errors.txt"
  else
    echo "Every answer of every run was 2xx; no socket errors."
  fi
}
# The same request to keep serve and to the FastAPI anchor: the same answer
# (for a PUT: the same session, one version on). Prints yes or NO.
same_answers() {
  local method=$1 path=$2 body=${3:-}
  local args=(-s -X "$method" -H "Authorization: Bearer $http_token")
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data-binary "@$body"); fi
  curl "${args[@]}" "http://127.0.0.1:$keep_port$path" >"$work/answer-keep.json"
  curl "${args[@]}" "http://127.0.0.1:$fastapi_port$path" >"$work/answer-fastapi.json"
  python3 -c '
import json, sys
keep, fastapi = (json.load(open(path)) for path in sys.argv[1:3])
if sys.argv[3] == "PUT":
    # the second write is one version on, at its own time
    for answer in keep, fastapi:
        answer["metadata"].pop("updatedAt")
    keep["metadata"]["version"] += 1
print("yes" if keep == fastapi else "NO")' "$work/answer-keep.json" "$work/answer-fastapi.json" "$method"
}

bench_http() {
  header "HTTP: keep serve vs FastAPI + uvicorn over the same SQLite file, and vs a bare Hummingbird route (wrk -t$http_threads -c$http_connections -d${http_seconds}s on 127.0.0.1; median requests/s and p99 of $rounds interleaved rounds)"
  start_keep_serve
  start_fastapi
  start_ceiling
  local meta=/api/persistence/sessions/metadata/ doc=/api/persistence/sessions/
  local same_get same_put stored=yes round server before after requests non2xx
  same_get=$(same_answers GET "$meta$(head -n 1 "$work/ids")")
  same_put=$(same_answers PUT "$doc$(head -n 1 "$work/ids")" "$work/put.json")
  # A first run of each, not counted: connections, caches, the memory map.
  for server in keep:$keep_port fastapi:$fastapi_port ceiling:$ceiling_port; do
    run_wrk warm "${server#*:}" 2 "$http_threads" "$http_connections" GET "$meta" "$work/ids"
    run_wrk warm "${server#*:}" 2 "$http_threads" "$http_connections" PUT "$doc" "$work/ids" "$work/put.json"
  done
  rm -f "$work/http-errors.txt"
  for round in $(seq "$rounds"); do
    for server in keep:$keep_port fastapi:$fastapi_port ceiling:$ceiling_port; do
      run_wrk "get-${server%%:*}" "${server#*:}" "$http_seconds" "$http_threads" "$http_connections" GET "$meta" "$work/ids"
    done
    for server in keep:$keep_port fastapi:$fastapi_port ceiling:$ceiling_port; do
      before=$(versions)
      run_wrk "put-${server%%:*}" "${server#*:}" "$http_seconds" "$http_threads" "$http_connections" PUT "$doc" "$work/ids" "$work/put.json"
      after=$(versions)
      read -r requests non2xx <"$work/wrk.last"
      # Every PUT answered 200 was stored (those in flight when wrk stopped may be too).
      if [ "${server%%:*}" != ceiling ] && ! ((after - before >= requests - non2xx && after - before <= requests + http_connections)); then
        stored="NO (${server%%:*}: $((after - before)) versions for $((requests - non2xx)) answers)"
      fi
    done
  done
  table_head "route (wrk -t$http_threads -c$http_connections)" "keep serve" "anchor"
  http_row "GET /sessions/metadata/{id}, vs FastAPI + uvicorn" get-keep get-fastapi 3
  http_row "GET /sessions/metadata/{id}, vs bare Hummingbird (constant)" get-keep get-ceiling 0.5
  http_row "PUT /sessions/{id}, $http_bytes-byte content, vs FastAPI + uvicorn" put-keep put-fastapi 3
  http_row "PUT /sessions/{id}, $http_bytes-byte content, vs bare Hummingbird (reads the body, constant answer)" put-keep put-ceiling 0.5
  echo
  echo "keep serve: \`keep serve --db FILE --port 0 --auth-tokens FILE\` (defaults: 2 job workers, one log line a request, to a file), the shipped policies; a bearer token on every request. FastAPI $(python3 -c 'import fastapi; print(fastapi.__version__)') on uvicorn $(python3 -c 'import uvicorn; print(uvicorn.__version__)') with uvloop and httptools, $http_workers worker processes, \`async def\` endpoints (scripts/bench/fastapi_sessions.py): the same token check, Keep's SQL on Keep's sessions table, the reference's limits, the same answers, its access log on. Both on one SQLite file in WAL mode, synchronous=NORMAL. The ceiling: Hummingbird $(hummingbird_version) alone (Sources/HTTPCeiling), no authentication, no database. Each request goes to the next of $(wc -l <"$work/ids") sessions; wrk shares the machine's $(nproc) cores with the server it measures."
  echo "The same answers from keep serve and FastAPI: GET metadata $same_get, PUT $same_put. Every PUT answered was stored (the versions went up by as much): $stored."
  http_errors_note
}

bench_http_large() {
  header "HTTP: GET /api/persistence/sessions/{id} of a 1.4 MiB session, keep serve vs FastAPI + uvicorn, one connection (wrk -t1 -c1 -d${http_seconds}s on 127.0.0.1; median latencies of $rounds interleaved rounds)"
  start_keep_serve
  start_fastapi
  local doc=/api/persistence/sessions/ round server same answer_bytes
  same=$(same_answers GET "$doc$(cat "$work/large-id")")
  answer_bytes=$(wc -c <"$work/answer-keep.json")
  for server in keep:$keep_port fastapi:$fastapi_port; do
    run_wrk warm "${server#*:}" 2 1 1 GET "$doc" "$work/large-id"
  done
  rm -f "$work/http-errors.txt"
  for round in $(seq "$rounds"); do
    for server in keep:$keep_port fastapi:$fastapi_port; do
      run_wrk "large-${server%%:*}" "${server#*:}" "$http_seconds" 1 1 GET "$doc" "$work/large-id"
    done
  done
  table_head "GET /sessions/{id}, $large_bytes-byte content ($answer_bytes-byte answer), one connection" "keep serve" "FastAPI + uvicorn"
  awk -v k="$(http_median large-keep 2)" -v a="$(http_median large-fastapi 2)" 'BEGIN {
    printf "| median latency | %.2f ms | %.2f ms | %.2f× | < 10 ms |\n", k, a, k / a }'
  awk -v k="$(http_median large-keep 3)" -v a="$(http_median large-fastapi 3)" 'BEGIN {
    printf "| p99 latency | %.2f ms | %.2f ms | %.2f× | — |\n", k, a, k / a }'
  awk -v k="$(http_median large-keep 1)" -v a="$(http_median large-fastapi 1)" 'BEGIN {
    printf "| requests/s, one at a time | %.0f | %.0f | %.2f× | — |\n", k, a, k / a }'
  echo
  echo "The same servers and settings as the http section (keep serve reads the row, JSON-escapes the content into the answer). The same answer from both: $same."
  http_errors_note
}
# The Hummingbird version the package resolved (Package.resolved).
hummingbird_version() {
  python3 -c '
import json
pins = json.load(open("Package.resolved"))["pins"]
print(next((p["state"].get("version") for p in pins if p["identity"] == "hummingbird"), "?"))' 2>/dev/null || echo "?"
}

for section in "${sections[@]}"; do
  "bench_${section//-/_}"
done
