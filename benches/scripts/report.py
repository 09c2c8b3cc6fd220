#!/usr/bin/env python3
"""Prints flamedb's storage numbers next to the peers' from one run of benches/run.sh, and
(with --results) rewrites the storage section of benches/RESULTS.md."""
import argparse, json, sys
from results_md import provenance, replace_section

ap = argparse.ArgumentParser()
ap.add_argument("flamedb"); ap.add_argument("peers")
ap.add_argument("--command", required=True); ap.add_argument("--scale", required=True)
ap.add_argument("--results")
a = ap.parse_args()
f = json.load(open(a.flamedb))
p = json.load(open(a.peers))
for r in p["results"]:
    if "error" in r:
        print(f"peer {r.get('system')} failed: {str(r['error'])[:300]}", file=sys.stderr)
peers = [r for r in p["results"] if "error" not in r]
if not peers:
    sys.exit("no peer finished: " + json.dumps(p["results"])[:500])
rows = f["rows"]
for r in peers:
    assert r["rows"] == rows, f"row counts differ: flamedb {rows}, {r['system']} {r['rows']}"
loaders = [r for r in peers if r["load_s"] > 0.5]
best_bytes = min(peers, key=lambda r: r["bytes_per_row"])
best_load = max(loaders, key=lambda r: r["rows"] / r["load_s"]) if loaders else None
best_rss = min(peers, key=lambda r: r["peak_rss_bytes"])

def ratio(x, y):
    return f"{x / y:.2f}x" if y else "-"

lines = [
    "| metric | flamedb | best peer | peer | flamedb / peer |",
    "|---|---:|---:|---|---:|",
    f"| bytes on disk per row (dictionaries included) | {f['bytes_per_row']:.2f} | {best_bytes['bytes_per_row']:.2f} | {best_bytes['system']} | {ratio(f['bytes_per_row'], best_bytes['bytes_per_row'])} |",
]
if best_load:
    peer_rate = best_load["rows"] / best_load["load_s"]
    lines.append(f"| ingest rows/s, end to end to durable storage | {f['rows_per_second']:,.0f} | {peer_rate:,.0f} | {best_load['system']} (load) | {ratio(f['rows_per_second'], peer_rate)} |")
lines.append(f"| peak RSS MiB | {f['peak_rss_mib']:,.0f} | {best_rss['peak_rss_bytes'] / 2**20:,.0f} | {best_rss['system']} | {ratio(f['peak_rss_mib'], best_rss['peak_rss_bytes'] / 2**20)} |")
table = "\n".join(lines)
print(table)
if not a.results:
    sys.exit(0)
rollup = f.get("minute_rollup_bytes_per_row")
if str(f.get("ingest_path", "")).startswith("flamedb ingest"):
    rss_note = "- flamedb's peak RSS is the largest of the `flamedb ingest` processes."
else:
    rss_note = ("- flamedb's peak RSS is that of the bench driver, which also holds the decoded workload and\n"
                f"  every input body in memory ({f['input_pprof_gzip_bytes'] / 2**30:.1f} GiB of pprof here): it is not the store's footprint.")
rollup_note = (f"\n- Minute rollups (optional, written by compaction for long ranges) add {rollup:.2f} bytes per row, not counted above." if rollup else "")
files = ", ".join(f"{k} {v / rows:.3f}" for k, v in sorted(f["bytes_by_file"].items()))
section = f"""## Storage: bytes per row and ingest rate ({a.scale}), against the peers

{provenance()}
Command: `{a.command}` (flamedb and the peers on the same generated data in one run).

{table}

- Rows are (profile x stack) pairs: {rows:,} rows in {f['profiles']:,} profiles.
- flamedb ingests the fleet as gzipped pprof ({f['input_pprof_gzip_bytes'] / rows:.0f} bytes per row of input; {f.get('ingest_path', 'in process')}),
  decoding, writing the WAL with fsync, flushing heads to Parquet blocks, then compacting
  ({f['blocks_after_flush']} blocks after flush, {f['blocks']} after compaction). Peers load the already
  normalized Parquet files (stack ids precomputed), so the ingest ratio compares different work.
- flamedb bytes per row by file: {files}.{rollup_note}
{rss_note}"""
replace_section(a.results, "storage", section)
