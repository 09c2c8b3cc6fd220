"""What the bench report scripts share: the run's provenance line and rewriting one marked
section of benches/RESULTS.md (`<!-- NAME:begin -->` ... `<!-- NAME:end -->`)."""
import datetime, os, platform, re, subprocess


def provenance() -> str:
    """`Date D, commit C, N cores (CPU).`"""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    return f"Date {datetime.date.today()}, commit {commit}, {os.cpu_count()} cores ({cpu})."


def replace_section(path: str, name: str, body: str) -> None:
    """Writes `body` (without markers) as section `name` of the file at `path`: in place of
    the old section, or appended."""
    section = f"<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->"
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    pattern = rf"<!-- {name}:begin -->.*<!-- {name}:end -->"
    if re.search(pattern, text, flags=re.S):
        text = re.sub(pattern, lambda m: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    open(path, "w").write(text)


def provenance_short() -> str:
    """`DATE COMMIT`."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return f"{datetime.date.today()} {commit}"


RUNS_HEADER = """## Ingest paths and inputs, one row per (scale, input, path)

Written by every `benches/run.sh` run without `--smoke` (the latest run of each scale, input
and ingest path replaces its row). rows/s is end to end to durable Parquet blocks; Q1-Q7 are
flamedb's medians in ms; "checksums" counts the queries whose answer equals every peer's.

| scale | input | ingest path | rows | rows/s | bytes/row | peak RSS MiB | Q1 / Q2 / Q3 / Q4 / Q5 / Q6 / Q7 ms | checksums | load average (start, after queries) | date, commit | command |
|---|---|---|---:|---:|---:|---:|---|---|---|---|---|"""


def upsert_run(path: str, key: tuple, cells: list) -> None:
    """Adds the row `cells` to the ingest-runs section of the file at `path`, replacing the
    row whose first three cells are `key`."""
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    m = re.search(r"<!-- ingest-runs:begin -->\n(.*)\n<!-- ingest-runs:end -->", text, flags=re.S)
    old = m.group(1).split("\n") if m else []
    kept = [l for l in old if l.startswith("| ") and not l.startswith("| scale")
            and [c.strip() for c in l.strip("|").split("|")[:3]] != [str(k) for k in key]]
    row = "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    replace_section(path, "ingest-runs", "\n".join([RUNS_HEADER] + sorted(kept + [row])))
