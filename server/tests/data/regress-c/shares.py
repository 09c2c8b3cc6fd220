#!/usr/bin/env python3
"""Self and inclusive shares per function in the perf script captures here.

Independent of flamedb: stdlib only, reads the `perf script` text directly.
Usage: python3 shares.py [DIR]   (DIR defaults to this file's directory)

A sample is a header line followed by one frame per line, leaf first
("ip symbol[+off] (dso)"), ended by a blank line. Every sample counts 1
(the period, when printed, is ignored: cpu-clock's is fixed, 1001001 ns here). Self = the leaf frame's function; inclusive =
every distinct function on the stack, once per sample. Prints markdown.
"""
import os
import re
import statistics
import sys
from collections import Counter

APP = ["main", "handle_request", "parse_input", "compute", "hash_block",
       "checksum", "crc_step", "render_output", "format_row", "escape_html"]
# The callers each function of the app has in the source.
PARENT = {"main": {"__libc_start_call_main"}, "handle_request": {"main"},
          "parse_input": {"handle_request"}, "compute": {"handle_request"},
          "render_output": {"handle_request"}, "hash_block": {"compute"},
          "checksum": {"compute"}, "crc_step": {"checksum", "render_output"},
          "format_row": {"render_output"}, "escape_html": {"render_output"}}
FRAME = re.compile(r"^\s+([0-9a-fA-F]+)\s+(.*?)(?:\s+\(([^()]*)\))?$")
NAME = re.compile(r"v(\d+)-pod(\d+)\.perf\.txt$")


def samples(path):
    """Yields each sample's stack: function names, leaf first."""
    stack, in_sample = [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if in_sample:
                    yield stack
                stack, in_sample = [], False
            elif not line[0].isspace():
                if in_sample:
                    yield stack
                stack, in_sample = [], True
            else:
                m = FRAME.match(line)
                if m:
                    sym = re.sub(r"\+0x[0-9a-fA-F]+$", "", m.group(2)) or "[unknown]"
                    stack.append(sym)
    if in_sample:
        yield stack


def pod_stats(path):
    st = {"total": 0, "self": Counter(), "incl": Counter(), "crc_via": Counter(),
          "broken": 0, "unknown": 0, "kernel": 0, "full_chain": 0}
    for stack in samples(path):
        st["total"] += 1
        user = [s for s in stack if not s.startswith(("0xffff",))]
        leaf = stack[0] if stack else "[unknown]"
        st["self"][leaf if leaf in APP else "(other)"] += 1
        for fn in set(stack):
            st["incl"][fn] += 1
        if any("unknown" in s for s in stack):
            st["unknown"] += 1
        app_frames = [s for s in user if s in APP]
        first_app = next((i for i, s in enumerate(stack) if s in APP), None)
        if first_app is not None and first_app > 0:
            st["kernel"] += 1  # sampled in the kernel (or libc) on top of app frames
        # Every app frame must have its source caller right below it.
        ok = True
        for i, fn in enumerate(stack):
            if fn in APP:
                below = stack[i + 1] if i + 1 < len(stack) else None
                if below not in PARENT[fn]:
                    ok = False
        if app_frames and not ok:
            st["broken"] += 1
        if stack[:4] == ["hash_block", "compute", "handle_request", "main"]:
            st["full_chain"] += 1
        if leaf == "crc_step" and len(stack) > 1:
            st["crc_via"][stack[1]] += 1
    return st


def fmt(x, nd=1):
    return f"{x:.{nd}f}"


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    pods = {}
    for name in sorted(os.listdir(d)):
        m = NAME.match(name)
        if m:
            pods.setdefault(int(m.group(1)), []).append(pod_stats(os.path.join(d, name)))
    if not pods:
        sys.exit(f"no v*-pod*.perf.txt in {d}")
    tot = {v: statistics.mean(p["total"] for p in ps) for v, ps in pods.items()}
    base = min(pods)

    def per_pod(v, key, fn):
        return [p[key][fn] for p in pods[v]]

    for v, ps in sorted(pods.items()):
        print(f"### v{v}: {len(ps)} pods, samples per pod "
              f"{', '.join(str(p['total']) for p in ps)} (mean {fmt(tot[v], 0)}; "
              f"{fmt(100 * tot[v] / tot[base])}% of v{base})\n")
        print("| function | self % | self % per pod (min–max) | incl % | self samples/pod "
              f"| self, % of v{base} work |")
        print("|---|---:|---:|---:|---:|---:|")
        for fn in APP + ["(other)"]:
            shares = [100 * p["self"][fn] / p["total"] for p in ps]
            incl = [100 * p["incl"][fn] / p["total"] for p in ps] if fn in APP else None
            if fn != "(other)" and not any(p["incl"][fn] for p in ps):
                print(f"| {fn} | – | – | – | – | – |")
                continue
            n = statistics.mean(per_pod(v, "self", fn))
            print(f"| {fn} | {fmt(statistics.mean(shares))} | {fmt(min(shares))}–{fmt(max(shares))} "
                  f"| {fmt(statistics.mean(incl)) if incl else '–'} | {fmt(n)} "
                  f"| {fmt(100 * n / tot[base])} |")
        via = Counter()
        for p in ps:
            via.update(p["crc_via"])
        via_txt = ", ".join(f"{k} {fmt(c / len(ps))}" for k, c in via.most_common())
        print(f"\ncrc_step self samples per pod by caller: {via_txt}  ")
        print(f"samples with the full chain hash_block;compute;handle_request;main: "
              f"{sum(p['full_chain'] for p in ps)} = all hash_block self samples: "
              f"{sum(p['self']['hash_block'] for p in ps)}  ")
        print(f"samples with an app frame whose caller is not its source caller: "
              f"{sum(p['broken'] for p in ps)}; with [unknown] frames: "
              f"{sum(p['unknown'] for p in ps)}; kernel/libc on top of app frames: "
              f"{sum(p['kernel'] for p in ps)}\n")

    vs = sorted(pods)
    for a, b in zip(vs, vs[1:]):
        print(f"### v{a} -> v{b}: changes (means over pods)\n")
        print("| function | self pp (share) | incl pp (share) | self samples/pod | "
              f"self, pp of v{a} work |")
        print("|---|---:|---:|---:|---:|")
        for fn in APP:
            sa = statistics.mean(100 * p["self"][fn] / p["total"] for p in pods[a])
            sb = statistics.mean(100 * p["self"][fn] / p["total"] for p in pods[b])
            ia = statistics.mean(100 * p["incl"][fn] / p["total"] for p in pods[a])
            ib = statistics.mean(100 * p["incl"][fn] / p["total"] for p in pods[b])
            na = statistics.mean(per_pod(a, "self", fn))
            nb = statistics.mean(per_pod(b, "self", fn))
            print(f"| {fn} | {sb - sa:+.1f} | {ib - ia:+.1f} | {fmt(na)} -> {fmt(nb)} "
                  f"| {100 * (nb - na) / tot[a]:+.1f} |")
        ca = [Counter(p["crc_via"]) for p in pods[a]]
        cb = [Counter(p["crc_via"]) for p in pods[b]]
        for caller in ("checksum", "render_output"):
            xa = statistics.mean(c[caller] for c in ca)
            xb = statistics.mean(c[caller] for c in cb)
            print(f"| crc_step via {caller} | | | {fmt(xa)} -> {fmt(xb)} "
                  f"| {100 * (xb - xa) / tot[a]:+.1f} |")
        print()


if __name__ == "__main__":
    main()
