#!/usr/bin/env bash
# The macro comparison: flamedb against DuckDB and chDB on the same generated fleet, in one
# run. Generates the workload with ../shared/bench/gen_workload.py (cached by scale and
# seed), ingests it through flamedb's write path (pprof bytes -> decode -> WAL with fsync ->
# heads -> Parquet blocks -> compaction), loads the same data into the peers with
# ../shared/bench/peers.py, runs Q1-Q7 on both (flamedb's SQL in benches/queries/), checks
# that every answer's checksum equals the peers', and prints the tables with the ratios.
# Without --smoke it also rewrites the storage and query sections of benches/RESULTS.md.
#
#   benches/run.sh [--scale tiny|small|medium] [--seed 42] [--smoke] [--via-cli | --via-http]
#                  [--input pprof|folded|parquet] [--table-only]
#   benches/run.sh --flame3m
#
# --via-cli: ingest with the `flamedb ingest` command, one process per pod (pprof files are
# written beside the data once), so the peak RSS reported is the ingesting processes'.
# --via-http: ingest through `flamedb serve` (POST /api/v1/ingest, 4 in flight, then
# /api/v1/flush), then time the flame graph endpoints (merge as Q1, diff as Q3) on that
# store, checking their totals against Q1's and Q3's SQL totals.
# --input folded (with --via-cli or --via-http): ingest gen_workload's folded files (sample
# counts at 100 Hz, generated once beside the cached data) instead of pprof: `flamedb ingest
# --format folded --sample-rate 100 FILE@TIME...` per pod, or Pyroscope's `POST
# /ingest?name=APP.cpu{version=,dc=,pod=}&from=&until=&format=folded&sampleRate=100`.
# The RESULTS.md sections of a folded run are storage-folded, queries-folded, http-folded.
# --input parquet: bulk import the normalized Parquet tables (the peers' own input) as the
# main ingest (`Store::import` in process, or `flamedb import` with --via-cli). Every other
# run also imports them into a second store, reports that rate beside the main ingest's,
# and checks Q1-Q7 on that store against the peers' checksums.
# --table-only: of RESULTS.md, only add this run's row to the ingest-runs table (for runs
# that must not replace the sections, e.g. a small run next to the medium one).
# --smoke: debug build, DuckDB only, no RESULTS.md (CI runs it at tiny scale so it cannot rot);
# it also ingests the folded files through HTTP and through the CLI into two more stores,
# calls the endpoints once, and checks Q1-Q7 on every store against the peers' checksums.
# --flame3m: only the flame graph of 3M distinct stacks (`flamedb-bench flame3m`: SQL and
# /api/v1/flamegraph), release build, rewrites its section of RESULTS.md; no peers.
# Caches (venv, data) live in ${FLAMEDB_BENCH_CACHE:-~/.cache/flamedb-bench}.
set -euo pipefail
scale=small seed=42 smoke=0 via_cli=0 via_http=0 flame3m=0 input=pprof table_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --via-cli) via_cli=1; shift ;;
    --via-http) via_http=1; shift ;;
    --flame3m) flame3m=1; shift ;;
    --input) input=$2; shift 2 ;;
    --table-only) table_only=1; shift ;;
    *) echo "usage: $0 [--scale tiny|small|medium] [--seed N] [--smoke] [--via-cli | --via-http] [--input pprof|folded|parquet] [--table-only] | --flame3m" >&2; exit 2 ;;
  esac
done
if [ "$via_cli" = 1 ] && [ "$via_http" = 1 ]; then
  echo "$0: --via-cli and --via-http are exclusive" >&2; exit 2
fi
case "$input" in pprof|folded|parquet) ;; *) echo "$0: --input pprof, folded or parquet" >&2; exit 2 ;; esac
if [ "$input" = parquet ] && [ "$via_http" = 1 ]; then
  echo "$0: --input parquet is imported in process or with --via-cli (flamedb import)" >&2; exit 2
fi
if [ "$input" = folded ] && [ "$via_cli" = 0 ] && [ "$via_http" = 0 ]; then
  echo "$0: --input folded goes through flamedb's ingest paths: add --via-cli or --via-http" >&2; exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [ "$flame3m" = 1 ]; then
  cd "$root"
  cargo build --release --workspace
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  "$target/release/flamedb-bench" flame3m --store "$out/store" --flamedb "$target/release/flamedb" > "$out/flame3m.json"
  python3 "$here/scripts/flame3m.py" "$out/flame3m.json" --command "benches/run.sh --flame3m" --results "$here/RESULTS.md"
  exit 0
fi
shared=${FLAMEDB_SHARED:-$root/../shared}
cache=${FLAMEDB_BENCH_CACHE:-$HOME/.cache/flamedb-bench}
venv=$cache/venv
mkdir -p "$cache"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import numpy, pyarrow, duckdb, psutil' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pyarrow duckdb psutil
fi
systems=duckdb-native-norm
if [ "$smoke" = 0 ]; then
  "$venv/bin/python" -c 'import chdb' 2>/dev/null || "$venv/bin/pip" install -q chdb
  systems=duckdb-parquet-norm,duckdb-native-norm,chdb-mergetree-norm
fi
data=$cache/data/$scale-seed$seed
if [ ! -f "$data/workload.json" ]; then
  "$venv/bin/python" "$shared/bench/gen_workload.py" --scale "$scale" --seed "$seed" --out "$data.tmp"
  rm -rf "$data" && mv "$data.tmp" "$data"
fi
if { [ "$input" = folded ] || [ "$smoke" = 1 ]; } && [ ! -f "$data/folded/manifest.jsonl" ]; then
  # The folded files of the same fleet (the generator draws the same samples whatever the
  # formats), generated once beside the cached data; the row counts must agree.
  "$venv/bin/python" "$shared/bench/gen_workload.py" --scale "$scale" --seed "$seed" --formats folded --out "$data.folded.tmp"
  "$venv/bin/python" -c 'import json, sys
a, b = (json.load(open(f"{d}/workload.json")) for d in sys.argv[1:])
assert a["rows"] == b["rows"] and a["query_params"] == b["query_params"], (a["rows"], b["rows"])' "$data" "$data.folded.tmp"
  rm -rf "$data/folded" && mv "$data.folded.tmp/folded" "$data/folded" && rm -rf "$data.folded.tmp"
fi
cd "$root"
if [ "$smoke" = 1 ]; then
  # The binaries `cargo nextest run --workspace` has just built (the server's and the
  # driver's tests run them): building them alone would select different dependency
  # features and rebuild DataFusion.
  # A no-op right after the tests.
  cargo nextest run --workspace --no-run
  bin=$target/debug/flamedb-bench
  flamedb=$target/debug/flamedb
elif [ -n "${FLAMEDB_BENCH_BIN_DIR:-}" ]; then
  # Release binaries built beforehand (flamedb-bench and flamedb of the checked-out commit),
  # for a target directory other builds share.
  bin=$FLAMEDB_BENCH_BIN_DIR/flamedb-bench
  flamedb=$FLAMEDB_BENCH_BIN_DIR/flamedb
else
  # The whole workspace: selecting packages would change dependency features (DataFusion's).
  cargo build --release --workspace
  bin=$target/release/flamedb-bench
  flamedb=$target/release/flamedb
fi
out=$cache/last-run
rm -rf "$out" && mkdir -p "$out"
ingest_args=(ingest --data "$data" --store "$out/store" --input "$input")
if [ "$via_cli" = 1 ]; then ingest_args+=(--via-cli "$flamedb"); fi
if [ "$via_http" = 1 ]; then ingest_args+=(--via-http "$flamedb"); fi
reps=5
if [ "$smoke" = 1 ]; then reps=1; fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== flamedb ingest ($scale, seed $seed, $input; load average $load_before)" >&2
"$bin" "${ingest_args[@]}" > "$out/flamedb.json"
echo "== flamedb queries" >&2
"$bin" query --store "$out/store" --data "$data" --reps "$reps" --out "$out/answers" > "$out/flamedb-queries.json"
if [ "$input" != parquet ]; then
  # The peers' own input, the normalized Parquet tables, bulk imported into a second store
  # (`Store::import`): the ingest rate on the same work as the peers' load; Q1-Q7 on that
  # store are checked against the peers' checksums below.
  echo "== flamedb bulk import of the normalized Parquet" >&2
  "$bin" ingest --data "$data" --store "$out/store-import" --input parquet > "$out/flamedb-import.json"
  "$bin" query --store "$out/store-import" --data "$data" --reps 1 --out "$out/answers-import" > "$out/flamedb-queries-import.json"
  rm -rf "$out/store-import"
fi
if [ "$smoke" = 1 ]; then
  # The folded files through both real ingest paths, each into its own store, each
  # checked against the peers below.
  echo "== flamedb ingest of the folded files through HTTP (smoke)" >&2
  "$bin" ingest --data "$data" --store "$out/store-http" --input folded --via-http "$flamedb" --endpoint-reps 1 > "$out/flamedb-http.json"
  "$bin" query --store "$out/store-http" --data "$data" --reps 1 --out "$out/answers-http" > "$out/flamedb-queries-http.json"
  echo "== flamedb ingest of the folded files through the CLI (smoke)" >&2
  "$bin" ingest --data "$data" --store "$out/store-cli" --input folded --via-cli "$flamedb" > "$out/flamedb-cli.json"
  "$bin" query --store "$out/store-cli" --data "$data" --reps 1 --out "$out/answers-cli" > "$out/flamedb-queries-cli.json"
fi
echo "== peers: $systems" >&2
# peers.py exits non-zero when a system failed; report.py names the failures.
"$venv/bin/python" "$shared/bench/peers.py" --data "$data" --systems "$systems" --queries Q1,Q2,Q3,Q4,Q5,Q6,Q7 \
  --reps "$reps" --json "$out/peers.json" > "$out/peers.md" || echo "peers.py: a system failed (see below)" >&2
command="benches/run.sh --scale $scale --seed $seed"
if [ "$smoke" = 1 ]; then command="$command --smoke"; fi
if [ "$via_cli" = 1 ]; then command="$command --via-cli"; fi
if [ "$via_http" = 1 ]; then command="$command --via-http"; fi
if [ "$input" != pprof ]; then command="$command --input $input"; fi
if [ "$table_only" = 1 ]; then command="$command --table-only"; fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
load="load average $load_before at the start, $load_after after the queries"
common=(--command "$command" --scale "$scale" --input "$input" --load "$load")
args=("$out/flamedb.json" "$out/peers.json" "${common[@]}" --queries "$out/flamedb-queries.json")
if [ -f "$out/flamedb-import.json" ]; then args+=(--import "$out/flamedb-import.json"); fi
qargs=("$out/flamedb-queries.json" "$out/answers" "$out/peers.json" --shared "$shared" "${common[@]}")
if [ "$smoke" = 0 ]; then
  if [ "$table_only" = 0 ]; then
    args+=(--results "$here/RESULTS.md")
    qargs+=(--results "$here/RESULTS.md")
  fi
  qargs+=(--runs "$here/RESULTS.md" --ingest "$out/flamedb.json")
fi
"$venv/bin/python" "$here/scripts/report.py" "${args[@]}"
# Exits non-zero when a checksum differs from the peers'.
"$venv/bin/python" "$here/scripts/queries.py" "${qargs[@]}"
if [ -f "$out/flamedb-queries-import.json" ]; then
  echo "== Q1-Q7 on the bulk-imported store" >&2
  "$venv/bin/python" "$here/scripts/queries.py" "$out/flamedb-queries-import.json" "$out/answers-import" "$out/peers.json" \
    --shared "$shared" "${common[@]}"
fi
for path in http cli; do
  if [ -f "$out/flamedb-$path.json" ]; then
    echo "== the folded files through the $path path (smoke)" >&2
    "$venv/bin/python" "$here/scripts/report.py" "$out/flamedb-$path.json" "$out/peers.json" "${common[@]}" \
      --queries "$out/flamedb-queries-$path.json"
    "$venv/bin/python" "$here/scripts/queries.py" "$out/flamedb-queries-$path.json" "$out/answers-$path" "$out/peers.json" \
      --shared "$shared" "${common[@]}"
  fi
done
