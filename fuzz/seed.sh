#!/usr/bin/env bash
# Seeds the fuzz corpora from ../shared/corpus (or $FLAMEDB_CORPUS). The copies stay out of
# git (fuzz/corpus is ignored): the corpus files have their own licences.
set -euo pipefail
cd "$(dirname "$0")"
src="${FLAMEDB_CORPUS:-../../shared/corpus}"
seed() { # target, corpus folders...
  local target=$1; shift
  mkdir -p "corpus/$target"
  for dir in "$@"; do
    find "$src/$dir" -type f -not -path '*/expected/*' | while read -r f; do
      cp "$f" "corpus/$target/$(echo "${f#"$src"/}" | tr '/' '_')"
    done
  done
  echo "$target: $(ls "corpus/$target" | wc -l) seeds"
}
seed pprof_decode pprof
seed folded_decode folded collapsed-async-profiler
seed perf_decode perf-script
seed any_decode pprof folded collapsed-async-profiler perf-script
seed otlp_decode otel
seed speedscope_decode speedscope
seed jfr_decode jfr
# Raw copies of the small recordings: mutating raw JFR reaches far more code than gzip.
for f in "$src"/jfr/jfr-parser/*.jfr.gz; do
  if [ "$(stat -c %s "$f")" -lt 60000 ]; then
    gzip -dc "$f" > "corpus/jfr_decode/raw_$(basename "$f" .gz)"
  fi
done
echo "jfr_decode: $(ls corpus/jfr_decode | wc -l) seeds with raw copies (run with -max_len=160000)"
