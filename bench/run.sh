#!/usr/bin/env bash
# Builds chatgate and the benchmarks in release mode and runs a scenario.
#   bench/run.sh                 # REST send benchmark
#   bench/run.sh rest-send --concurrency 1,16 --seconds 10
#   bench/run.sh compare         # chatgate vs the Node Socket.IO peer vs a raw WebSocket fan-out
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p chatgate -p chatgate-bench
scenario="${1:-rest-send}"
shift || true
if [ "$scenario" = compare ]; then
  # The reference peer is the official Node Socket.IO server, installed from npm.
  (cd bench/peers/socketio-node && npm ci --silent --no-audit --no-fund)
fi
exec target/release/chatgate-bench "$scenario" "$@"
