"""Foundation benchmarks: print the figures the Foundation issue asks for.

    python benchmarks/bench_foundation.py generate --scale city      # time + peak memory
    python benchmarks/bench_foundation.py runs                       # one day, 30-day backfill

`runs` works on the current RESTOCK_LANDING_DIR / RESTOCK_DATA_DIR (run `make demo`
first): it re-runs the last demo day, then backfills the last 30 days, through the
same CLI as `make backfill`, and splits each run into Dagster's step times.
`make demo` itself is timed from a fresh clone with `time make demo`.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEP = re.compile(r'Finished execution of step "([^"]+)" in ([0-9.]+)(m?s)')
DBT_ELAPSED = re.compile(r"in 0 hours \d+ minutes and ([0-9.]+) seconds")


def bench_generate(scale: str) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"restock-{scale}-"))
    started = time.perf_counter()
    code = subprocess.call(
        [sys.executable, "-m", "restock.demo", "--scale", scale, "--out", str(out), "--quiet"], cwd=ROOT
    )
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = subprocess.run(["du", "-sh", str(out)], capture_output=True, text=True).stdout.split()[0]
    subprocess.call(["rm", "-rf", str(out)])
    print(f"| generate {scale} | {elapsed:.1f} s | peak RSS {peak_mb:.0f} MB | {size} on disk | exit {code} |")


def _timed_backfill(start: date, end: date) -> tuple[float, dict[str, float], float | None, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "backfill", "--start", start.isoformat(), "--end", end.isoformat()],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    text = done.stdout + done.stderr
    steps = {name: float(value) / (1000 if unit == "ms" else 1) for name, value, unit in STEP.findall(text)}
    dbt = DBT_ELAPSED.findall(text)
    return wall, steps, float(dbt[-1]) if dbt else None, done.returncode


def bench_runs() -> None:
    from restock.demo.generator import read_manifest
    from restock.settings import load_settings

    settings = load_settings()
    last = date.fromisoformat(read_manifest(settings.landing_dir)["end"])
    print("| run | wall | raw steps | dbt step | dbt's own elapsed | start-up and bookkeeping | exit |")
    print("|---|---|---|---|---|---|---|")
    for label, start in (("one day", last), ("30-day backfill", last - timedelta(days=29))):
        wall, steps, dbt_elapsed, code = _timed_backfill(start, last)
        raw = sum(v for k, v in steps.items() if k.startswith("raw__"))
        dbt_step = steps.get("restock_dbt_models", 0.0)
        print(
            f"| {label} ({start} .. {last}) | {wall:.1f} s | {raw:.1f} s | {dbt_step:.1f} s | "
            f"{dbt_elapsed if dbt_elapsed is not None else '?'} s | {wall - raw - dbt_step:.1f} s | {code} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="what", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--scale", default="demo", choices=["tiny", "demo", "city"])
    sub.add_parser("runs")
    args = parser.parse_args()
    bench_generate(args.scale) if args.what == "generate" else bench_runs()


if __name__ == "__main__":
    main()
