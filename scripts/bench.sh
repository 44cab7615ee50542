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
#     pg-crud     session create/get/update one at a time on PostgreSQL vs pgbench
#     pg-jobs     10,000 mark_logs_deleted jobs drained by 3 `keep jobs work` processes
#     pg-migrate  the migration on PostgreSQL vs Python (psycopg)
#   The copy and pg-* sections run on a throwaway PostgreSQL server of this run
#   (scripts/postgres-throwaway.sh), stopped on exit.
#
# Environment:
#   KEEP_BENCH_NO_BUILD=1  build nothing: measure the binaries that are there
#   KEEP_BIN=PATH          the release `keep` to measure (default .build/release/keep);
#                          KeepBench is taken from the same folder. With another
#                          checkout's binary, set KEEP_BENCH_NO_BUILD=1 too, e.g.
#                          KEEP_BENCH_NO_BUILD=1 KEEP_BIN=../main/.build/release/keep scripts/bench.sh 3 pg-crud
# Whichever binary runs, it runs with this checkout's scripts/policies.
set -euo pipefail
cd "$(dirname "$0")/.."

all_sections=(swift json repl migrate copy pg-crud pg-jobs pg-migrate)
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
if [ "${KEEP_BENCH_NO_BUILD:-}" != 1 ]; then
  if [[ " ${sections[*]} " != " swift " ]]; then swift build -c release --product keep >&2; fi
  if wants swift; then swift build -c release --product KeepBench >&2; fi
fi
if [[ " ${sections[*]} " != " swift " ]] && [ ! -x "$keep" ]; then
  echo "bench.sh: no keep binary at $keep (build it, or name one with KEEP_BIN)" >&2
  exit 1
fi
export KEEP_POLICIES="$PWD/scripts/policies"
export KEEP_USER=bench  # `keep run` and `keep repl` refuse to guess a user
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

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
  start_throwaway_postgres >&2
  trap 'stop_throwaway_postgres; rm -rf "$work"' EXIT
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
  header "Small sessions on PostgreSQL: create, get, update one at a time, keep run (Lua API) vs pgbench -M prepared, one client (median ops/s; $rounds rounds of $count each)"
  start_postgres
  # The documents: a small session as Keep stores it (canonical JSON), and the
  # same with its map module renamed, for the updates.
  "$keep" --db "$work/crud-doc.sqlite" --user bench run scripts/bench/small_sessions.lua 1 >/dev/null
  sqlite3 "$work/crud-doc.sqlite" "SELECT writefile('$work/create.json', content) FROM sessions" >/dev/null
  sed 's/MapView/GeoMap/g' "$work/create.json" >"$work/update.json"
  local bytes create_hex create_hash update_hex update_hash title_hex key_hex
  bytes=$(wc -c <"$work/create.json")
  create_hex=$(od -An -v -tx1 "$work/create.json" | tr -d ' \n')
  update_hex=$(od -An -v -tx1 "$work/update.json" | tr -d ' \n')
  create_hash=$(sha256sum <"$work/create.json" | cut -d' ' -f1)
  update_hash=$(sha256sum <"$work/update.json" | cut -d' ' -f1)
  title_hex=$(printf 'Well study' | od -An -v -tx1 | tr -d ' \n')
  key_hex=$(printf 'well study' | od -An -v -tx1 | tr -d ' \n')
  # pgbench's statements: what Keep's table needs written and read, each its own
  # transaction, on random ids (pgbench's variables). The inserts' ids are new;
  # reads and updates pick among $count rows stored beforehand ('q1'…).
  cat >"$work/insert.sql" <<EOF
\\set n random(1, 1000000000000000)
INSERT INTO sessions (id, owner, title, title_key, description, content, hash, version, created_at, updated_at)
  VALUES ('p' || :n, 'bench', '\\x$title_hex', '\\x$key_hex', NULL, '\\x$create_hex', '$create_hash', 1, 1764900000000, 1764900000000);
EOF
  cat >"$work/select.sql" <<EOF
\\set n random(1, $count)
SELECT id, owner, title, description, content, hash, version, created_at, updated_at FROM sessions
  WHERE owner = 'bench' AND id = 'q' || :n;
EOF
  local update="UPDATE sessions SET title = '\\x$title_hex', title_key = '\\x$key_hex', description = NULL,
  content = '\\x$update_hex', hash = '$update_hash', version = version + 1, updated_at = 1764900001000
  WHERE owner = 'bench' AND id = 'q' || :n;"
  printf '\\set n random(1, %d)\n%s\n' "$count" "$update" >"$work/update.sql"
  # Keep's own statements for an update: the row is read (no lock), then
  # written only if still at the version read (\gset keeps it in :v).
  printf '\\set n random(1, %d)\n%s\n%s\n' "$count" \
    "SELECT id, owner, title, description, content, hash, version AS v, created_at, updated_at FROM sessions WHERE owner = 'bench' AND id = 'q' || :n \\gset" \
    "${update%;} AND version = :v;" >"$work/update_read_write.sql"
  local round schema op
  for round in $(seq "$rounds"); do
    "$keep" --db "$pg_url&schema=crud_keep_$round" --user bench run scripts/bench/session_crud.lua "$count" \
      "$work/create.json" "$work/update.json" >>"$work/crud-keep.txt"
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
      PGOPTIONS="-c search_path=$schema" pgbench -n -M prepared -c 1 -t "$count" -f "$work/$op.sql" "$pg_url" |
        awk '/^tps = / { printf "%s ", $3 }'
    done >>"$work/crud-pgbench.txt"
    echo >>"$work/crud-pgbench.txt"
  done
  table_head "operation, one at a time ($bytes-byte document)" "keep" "pgbench"
  local row name k p
  for row in 1 2 3 4; do
    name=$(echo "create: INSERT|get: SELECT by key|update: SELECT by key, then UPDATE … WHERE version = the one read (Keep's statements)|update: one UPDATE statement" | cut -d'|' -f"$row")
    k=$(cut -d' ' -f"$((row < 4 ? row : 3))" "$work/crud-keep.txt" | median)
    p=$(cut -d' ' -f"$row" "$work/crud-pgbench.txt" | median)
    awk -v n="$name" -v k="$k" -v p="$p" 'BEGIN { printf "| %s | %.0f ops/s | %.0f ops/s | %.2f× | ≥ 0.5× |\n", n, k, p, k / p }'
  done
  echo
  echo "keep: \`keep run scripts/bench/session_crud.lua\` (keep.sessions.create/get/update with the shipped policies). pgbench: \`pgbench -n -M prepared -c 1 -t $count\` on Keep's own sessions table (its keys and indexes), random ids from pgbench's variables, the same document bytes; each statement is its own transaction. $(pg_settings)"
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

for section in "${sections[@]}"; do
  "bench_${section//-/_}"
done
