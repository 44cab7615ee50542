#!/usr/bin/env bash
# Installs what is missing, builds Keep in release mode, and runs `keep` with
# the given arguments; with none, that is the REPL on ./keep.sqlite with the
# shipped policies (scripts/policies, unless ./policies exists).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
swift build -c release --product keep --package-path "$root" >&2
exec "$root/.build/release/keep" "$@"
