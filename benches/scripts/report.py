#!/usr/bin/env python3
"""Prints flamedb's storage numbers next to the peers' from one run of benches/run.sh, and
(with --results) rewrites the storage section of benches/RESULTS.md (`storage-folded` for
--input folded; and the http section, `http-folded`, for a run through the server)."""
import argparse, json, sys
from results_md import provenance, replace_section

ap = argparse.ArgumentParser()
ap.add_argument("flamedb"); ap.add_argument("peers")
ap.add_argument("--command", required=True); ap.add_argument("--scale", required=True)
ap.add_argument("--results")
ap.add_argument("--input", default="pprof", help="pprof or folded: names the sections")
ap.add_argument("--load", default="", help="the load average during the run, for the text")
ap.add_argument("--queries", help="flamedb-bench query's JSON, for Q1's and Q3's SQL times next to the endpoints")
ap.add_argument("--import", dest="imported", help="flamedb-bench ingest --input parquet's JSON (bulk import of the same run)")
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
imp = json.load(open(a.imported)) if a.imported else None
if imp:
    assert imp["rows"] == rows, f"row counts differ: ingest {rows}, import {imp['rows']}"
    if best_load:
        lines.append(f"| bulk import rows/s of the peers' normalized Parquet, to durable blocks | {imp['rows_per_second']:,.0f} | {peer_rate:,.0f} | {best_load['system']} (load) | {ratio(imp['rows_per_second'], peer_rate)} |")
    lines.append(f"| bytes on disk per row after the bulk import | {imp['bytes_per_row']:.2f} | {best_bytes['bytes_per_row']:.2f} | {best_bytes['system']} | {ratio(imp['bytes_per_row'], best_bytes['bytes_per_row'])} |")
lines.append(f"| peak RSS MiB | {f['peak_rss_mib']:,.0f} | {best_rss['peak_rss_bytes'] / 2**20:,.0f} | {best_rss['system']} | {ratio(f['peak_rss_mib'], best_rss['peak_rss_bytes'] / 2**20)} |")
table = "\n".join(lines)
print(table)
http = f.get("http_endpoints")
http_table = None
if http:
    q = json.load(open(a.queries))["queries"] if a.queries else {}
    def sql_ms(id):
        return f"{q[id]['median_ms']:,.1f}" if id in q else "-"
    m, d = http["merge"], http["diff"]
    http_table = "\n".join([
        "| what | ms (median) | SQL ms (median) | totals | equal to the SQL totals |",
        "|---|---:|---:|---|---|",
        f"| `GET {m['path']}` (merge) | {m['median_ms']:,.1f} | {sql_ms('Q1')} (Q1) | {m['total']:,} | {'yes' if m['total'] == m['q1_sql_total'] else 'NO'} |",
        f"| `GET {d['path']}` (diff) | {d['median_ms']:,.1f} | {sql_ms('Q3')} (Q3) | {d['left_total']:,} / {d['right_total']:,} | {'yes' if [d['left_total'], d['right_total']] == d['q3_sql_totals'] else 'NO'} |",
    ])
    print(f"\ningest through HTTP: {rows:,} rows in {f['seconds_to_durable_blocks']:.1f} s = {f['rows_per_second']:,.0f} rows/s end to end (posted in {f['seconds_to_ack_all']:.1f} s)")
    print(http_table)
if not a.results:
    sys.exit(0)
rollup = f.get("minute_rollup_bytes_per_row")
suffix = "" if a.input == "pprof" else f"-{a.input}"
input_bytes = f.get("input_bytes", f.get("input_pprof_gzip_bytes", 0))
input_format = f.get("input_format", "gzipped pprof")
load = f"; {a.load}" if a.load else ""
if str(f.get("ingest_path", "")).startswith("flamedb ingest"):
    rss_note = "- flamedb's peak RSS is the largest of the `flamedb ingest` processes."
elif str(f.get("ingest_path", "")).startswith("flamedb serve"):
    rss_note = "- flamedb's peak RSS is the `flamedb serve` process's (ingest, flush and the endpoint calls)."
else:
    rss_note = ("- flamedb's peak RSS is that of the bench driver, which also holds the decoded workload and\n"
                f"  every input body in memory ({input_bytes / 2**30:.1f} GiB of pprof here): it is not the store's footprint.")
rollup_note = (f"\n- Minute rollups (optional, written by compaction for long ranges) add {rollup:.2f} bytes per row, not counted above." if rollup else "")
files = ", ".join(f"{k} {v / rows:.3f}" for k, v in sorted(f["bytes_by_file"].items()))
import_note = ""
if imp:
    import_note = (f"\n- Bulk import: the same run also imported the normalized Parquet tables the peers load\n"
                   f"  ({imp['input_bytes'] / rows:.1f} bytes per row of input; {imp['ingest_path']}) into a second store:\n"
                   f"  {imp['seconds_to_durable_blocks']:.1f} s to durable blocks ({imp['blocks_after_flush']} blocks; no WAL: the input\n"
                   f"  files are the durable copy until the blocks are complete), peak RSS {imp['peak_rss_mib']:,.0f} MiB (the driver process),\n"
                   f"  then compaction and dictionary sharing ({imp['compaction_seconds']:.1f} s). Q1-Q7 on that store are checked against the peers' checksums.")
if a.input == "parquet":
    work = (f"reading them and writing Parquet blocks straight to the store (no WAL), then compacting\n"
            f"  ({f['blocks_after_flush']} blocks written, {f['blocks']} after compaction): the same input and work as the peers' load")
else:
    work = (f"decoding, writing the WAL with fsync, flushing heads to Parquet blocks, then compacting\n"
            f"  ({f['blocks_after_flush']} blocks after flush, {f['blocks']} after compaction). Peers load the already\n"
            f"  normalized Parquet files (stack ids precomputed), so the ingest ratio compares different work")
section = f"""## Storage: bytes per row and ingest rate ({a.scale}{', ' + a.input + ' input' if suffix else ''}), against the peers

{provenance()}
Command: `{a.command}` (flamedb and the peers on the same generated data in one run{load}).

{table}

- Rows are (profile x stack) pairs: {rows:,} rows in {f['profiles']:,} profiles.
- flamedb ingests the fleet as {input_format} ({input_bytes / rows:.1f} bytes per row of input; {f.get('ingest_path', 'in process')}),
  {work}.
- flamedb bytes per row by file: {files}.{rollup_note}
{rss_note}{import_note}"""
replace_section(a.results, "storage" + suffix, section)
if http_table:
    section = f"""## Through the HTTP server: ingest and flame graph endpoints ({a.scale}{', ' + a.input + ' input' if suffix else ''})

{provenance()}
Command: `{a.command}` (`flamedb serve` on 127.0.0.1 with a fresh data directory, debug
or release as the command says; medians of {http['reps']} warm calls after one warm-up{load}).

- Ingest: {f['profiles']:,} profiles ({input_format}) POSTed: {f.get('ingest_path', '')}:
  {rows:,} rows durable in the WAL after {f['seconds_to_ack_all']:.1f} s, in Parquet blocks after the flush
  at {f['seconds_to_durable_blocks']:.1f} s: **{f['rows_per_second']:,.0f} rows/s end to end**.
- The endpoints on the same store, as Q1 (merge) and Q3 (diff), flamebearer JSON of at most
  1024 nodes; totals checked against `SELECT sum(..) FROM (Q1 | Q3)` through `/api/v1/sql`.

{http_table}"""
    replace_section(a.results, "http" + suffix, section)
