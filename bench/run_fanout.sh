#!/usr/bin/env bash
# The SSE fan-out benchmark (see bench/README.md); arguments go to `python -m bench.fanout`,
# e.g. bench/run_fanout.sh --quick, or bench/run_fanout.sh --clients 5000 --seconds 15 --rate 10.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v uv >/dev/null 2>&1; then UV=(uv); else UV=(python3 -m uv); fi
exec "${UV[@]}" run --frozen python -m bench.fanout "$@"
