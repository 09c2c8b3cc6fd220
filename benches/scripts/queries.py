#!/usr/bin/env python3
"""Q1-Q7: flamedb's times and answers next to the peers' from one run of benches/run.sh.

Reads flamedb-bench's query report (JSON) and its answers (`{id}.arrow`), computes each
answer's checksum with ../shared/bench/queries.py (the peers' own code), compares it with
every peer's, prints a table, and with --results rewrites the query section of
benches/RESULTS.md (`queries-folded` for --input folded). With --runs and --ingest it also
adds (or replaces) this run's row of the ingest-runs table. Exits non-zero when a checksum
differs."""
import argparse, json, os, sys
from results_md import provenance, provenance_short, replace_section, upsert_run

ap = argparse.ArgumentParser()
ap.add_argument("flamedb"); ap.add_argument("answers"); ap.add_argument("peers")
ap.add_argument("--shared", required=True)
ap.add_argument("--command", required=True); ap.add_argument("--scale", required=True)
ap.add_argument("--results")
ap.add_argument("--input", default="pprof", help="pprof or folded: names the section")
ap.add_argument("--load", default="", help="the load average during the run, for the text")
ap.add_argument("--runs", help="RESULTS.md whose ingest-runs table gets this run's row")
ap.add_argument("--ingest", help="flamedb-bench ingest's JSON of this run (with --runs)")
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.shared, "bench"))
import pyarrow.ipc as ipc  # noqa: E402
import queries as Q  # noqa: E402

f = json.load(open(a.flamedb))["queries"]
p = json.load(open(a.peers))
peers = [r for r in p["results"] if "error" not in r]
for r in p["results"]:
    if "error" in r:
        print(f"peer {r.get('system')} failed: {str(r['error'])[:300]}", file=sys.stderr)
if not peers:
    sys.exit("no peer finished")
ok = True
rows = []
for qid in Q.QUERIES:
    if qid not in f:
        continue
    path = os.path.join(a.answers, f"{qid}.arrow")
    if os.path.exists(path):
        table = ipc.open_file(path).read_all()
        mine = Q.checksum(qid, table)
    else:
        mine = {"rows": 0, "sum": 0, "hash": "(empty)"}
    theirs = [r for r in peers if qid in r["queries"]]
    agree = all(r["queries"][qid]["checksum"] == mine for r in theirs)
    ok &= agree
    best = min(theirs, key=lambda r: r["queries"][qid]["median_s"]) if theirs else None
    ms = f[qid]["median_ms"]
    if best:
        pm = best["queries"][qid]["median_s"] * 1000
        rows.append(f"| {qid} | {ms:,.1f} | {pm:,.1f} | {best['system']} | {ms / pm:.2f}x | {'yes' if agree else 'NO'} |")
    if not agree:
        detail = ", ".join(f"{r['system']} {r['queries'][qid]['checksum']}" for r in theirs)
        print(f"{qid}: flamedb {mine} vs {detail}", file=sys.stderr)
table = "\n".join(["| query | flamedb ms | best peer ms | peer | flamedb / peer | checksums agree |",
                   "|---|---:|---:|---|---:|---|"] + rows)
print(table)
suffix = "" if a.input == "pprof" else f"-{a.input}"
load = f"; {a.load}" if a.load else ""
if a.results:
    section = f"""## Queries Q1-Q7 ({a.scale}{', ' + a.input + ' input' if suffix else ''}), against the peers

{provenance()}
Command: `{a.command}` (flamedb and the peers on the same generated data in one run; medians
of warm runs, execute + collect; flamedb's SQL is in benches/queries/{load}).

{table}

- Checksums are computed from each system's answer by ../shared/bench/queries.py."""
    replace_section(a.results, "queries" + suffix, section)
if a.runs and a.ingest:
    ing = json.load(open(a.ingest))
    agree = sum(1 for r in rows if r.endswith("| yes |"))
    via = str(ing.get("ingest_path", ""))
    via = "CLI" if via.startswith("flamedb ingest") else "HTTP" if via.startswith("flamedb serve") else "in process"
    upsert_run(a.runs, key=(a.scale, a.input, via), cells=[
        a.scale, a.input, via, f"{ing['rows']:,}",
        f"{ing['rows_per_second']:,.0f}", f"{ing['bytes_per_row']:.2f}", f"{ing['peak_rss_mib']:,.0f}",
        " / ".join(f"{f[q]['median_ms']:,.0f}" for q in Q.QUERIES if q in f),
        f"{agree}/{len(rows)}", a.load.replace("load average ", ""), provenance_short(),
        f"`{a.command}`"])
sys.exit(0 if ok else 1)
