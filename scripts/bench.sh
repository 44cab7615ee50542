#!/usr/bin/env bash
# Benchmarks in release mode. Every figure is printed next to its anchor
# measured in the same run (these machines are shared and noisy: compare the
# ratios). Usage: scripts/bench.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"

scripts/setup.sh
swift build -c release --product keep >&2
swift build -c release --product KeepBench >&2
keep=.build/release/keep
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

.build/release/KeepBench
echo

echo "## JSON: 1.5 MiB session document, keep vs lua-cjson in lua5.4 (median ms; $rounds interleaved rounds of 21 runs)"
echo
"$keep" run scripts/bench/session_document.lua "$work/session.json" >/dev/null
for _ in $(seq "$rounds"); do
  "$keep" run scripts/bench/json.lua "$work/session.json" >>"$work/keep.txt"
  lua5.4 scripts/bench/json.lua "$work/session.json" >>"$work/cjson.txt"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
keep_decode=$(cut -d' ' -f1 "$work/keep.txt" | median)
keep_encode=$(cut -d' ' -f2 "$work/keep.txt" | median)
cjson_decode=$(cut -d' ' -f1 "$work/cjson.txt" | median)
cjson_encode=$(cut -d' ' -f2 "$work/cjson.txt" | median)
bytes=$(cut -d' ' -f3 "$work/keep.txt" | head -1)
echo "| benchmark ($bytes bytes) | keep | lua-cjson | ratio | target |"
echo "|---|---|---|---|---|"
awk -v k="$keep_decode" -v c="$cjson_decode" 'BEGIN { printf "| json.decode | %.2f ms | %.2f ms | %.2f× | ≤ 2× |\n", k, c, k / c }'
awk -v k="$keep_encode" -v c="$cjson_encode" 'BEGIN { printf "| json.encode (compact, sorted keys) | %.2f ms | %.2f ms | %.2f× | ≤ 2× |\n", k, c, k / c }'
echo

echo "## REPL start-up: \`keep repl\` on empty piped input vs \`lua5.4 -e ''\` (median ms of $((rounds * 21)) interleaved runs)"
echo
# EPOCHREALTIME (bash 5) times each run without starting a clock process.
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'; }
: >"$work/repl.txt"
: >"$work/lua.txt"
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
echo "| benchmark | keep | lua5.4 | ratio | target |"
echo "|---|---|---|---|---|"
awk -v k="$repl_start" -v l="$lua_start" 'BEGIN { printf "| start-up, empty piped input | %.1f ms | %.1f ms | %.1f× | < 100 ms |\n", k, l, k / l }'
