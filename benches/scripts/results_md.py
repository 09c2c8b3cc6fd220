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
