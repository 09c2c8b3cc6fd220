#!/usr/bin/env python3
"""Prints `flamedb-bench flame3m`'s JSON as a table and (with --results) rewrites the
flame3m section of benches/RESULTS.md."""
import argparse, json
from results_md import provenance, replace_section

ap = argparse.ArgumentParser()
ap.add_argument("report"); ap.add_argument("--command", required=True); ap.add_argument("--results")
a = ap.parse_args()
r = json.load(open(a.report))
w, s, h = r["write"], r["sql"], r.get("http")
goal_ms = 500
rows = [
    "| path | cold ms | warm ms (median) | goal 500 ms |",
    "|---|---:|---:|---|",
    f"| SQL `{s['sql']}` (in process, DataFusion) | {s['cold_ms']:,.0f} | {s['median_ms']:,.0f} | {'met' if s['median_ms'] <= goal_ms else 'not met'} |",
]
if h:
    rows.append(f"| `GET {h['path']}` (flamedb serve) | {h['cold_ms']:,.0f} | {h['median_ms']:,.0f} | {'met' if h['median_ms'] <= goal_ms else 'not met'} |")
table = "\n".join(rows)
print(table)
if a.results:
    section = f"""## Flame graph of 3M distinct stacks, end to end ({w['stacks']:,} stacks)

{provenance()}
Command: `{a.command}` (release build; `flamedb-bench flame3m --store DIR --flamedb target/release/flamedb`).

Input: {w['stacks']:,} distinct stacks of 20 frames (`benches/src/distinct.rs`: seeded, 50,000
function names, prefixes shared as in a call tree), each with a seeded value, as {w['profiles']}
gzipped pprof profiles ({w['input_pprof_gzip_bytes'] / 2**20:.0f} MiB) appended through `Store::append` (WAL, head,
Parquet block on local disk: {w['blocks']} block(s), written in {w['write_seconds']:.1f} s). Every answer's root total
equals the sum of the generated values. Cold: the first query of a fresh context or
server (dictionary and Parquet read from disk); warm: median of {len(s['runs_ms'])} more.
Pyroscope's figure for the same size is 3.6 s on one thread.

{table}"""
    replace_section(a.results, "flame3m", section)
