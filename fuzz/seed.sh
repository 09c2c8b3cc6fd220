#!/usr/bin/env bash
# Seeds the fuzz corpora from ../shared/corpus (or $FLAMEDB_CORPUS). The copies stay out of
# git (fuzz/corpus is ignored): the corpus files have their own licences.
set -euo pipefail
cd "$(dirname "$0")"
src="${FLAMEDB_CORPUS:-../../shared/corpus}"
mkdir -p corpus/pprof_decode corpus/folded_decode corpus/perf_decode corpus/any_decode
find "$src/pprof" -type f -exec cp -t corpus/pprof_decode {} +
find "$src/folded" "$src/collapsed-async-profiler" -type f -exec cp -t corpus/folded_decode {} +
find "$src/perf-script" -type f -not -path '*/expected/*' -exec cp -t corpus/perf_decode {} +
cp corpus/pprof_decode/* corpus/folded_decode/* corpus/perf_decode/* corpus/any_decode/ 2>/dev/null || true
echo "seeded: $(ls corpus/pprof_decode | wc -l) pprof, $(ls corpus/folded_decode | wc -l) folded, $(ls corpus/perf_decode | wc -l) perf"
