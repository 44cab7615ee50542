#!/usr/bin/env bash
# Installs what is missing, builds Keep in release mode, and runs `keep` with
# the given arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
swift build -c release --product keep --package-path "$root" >&2
exec "$root/.build/release/keep" "$@"
