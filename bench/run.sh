#!/usr/bin/env bash
# Builds chatgate and the benchmarks in release mode and runs a scenario.
#   bench/run.sh                 # REST send benchmark
#   bench/run.sh rest-send --concurrency 1,16 --seconds 10
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p chatgate -p chatgate-bench
scenario="${1:-rest-send}"
shift || true
exec target/release/chatgate-bench "$scenario" "$@"
