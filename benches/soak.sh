#!/usr/bin/env bash
# The kill soak at length: server/tests/kill_soak.rs (a real `flamedb serve`, SIGKILLed or
# stopped at seeded moments while clients ingest, push, flush and compact, checked after
# every restart), on a local data directory and on the S3-compatible
# server (moto, installed by .ci/s3-server), for many rounds. Prints one line per store:
#   SOAK store=local rounds=100 kills=.. clean_stops=.. sent=.. acknowledged=.. lost=0 ...
#
#   benches/soak.sh [--rounds 100] [--seed 1] [--local-only]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=100 seed=1 filter=kill_soak
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --local-only) filter=kill_soak_local; shift ;;
    *) echo "usage: benches/soak.sh [--rounds N] [--seed S] [--local-only]" >&2; exit 2 ;;
  esac
done
[ "$filter" = kill_soak_local ] || bash .ci/s3-server >/dev/null
start=$SECONDS
FLAMEDB_SOAK_ROUNDS=$rounds FLAMEDB_SOAK_SEED=$seed \
  cargo test --locked -p flamedb-server --test kill_soak -- "$filter" --nocapture --test-threads 1 2>&1 \
  | tee /dev/stderr | grep '^SOAK ' || { echo "soak failed" >&2; exit 1; }
echo "took $((SECONDS - start)) s (rounds=$rounds seed=$seed, $(date -u +%F), $(nproc) cores)"
