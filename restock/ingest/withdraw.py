"""Withdraw a delivered file: take it out of the landing folder, keeping it.

    python -m restock.ingest.withdraw --extract products --day 2025-03-02 [--reason "wrong export"]

Moves ``<landing>/<extract>/<day>.<suffix>`` (and its ``.done`` marker) to
``<data_dir>/withdrawn/<extract>/<day>/<UTC time>-<file name>``. The warehouse is not
touched here (a run may hold it): the next run of that day finds no file and makes the
day as if it had never arrived (``restock.ingest.loader.withdraw_day``): a snapshot's
rows of that day are deleted and the earlier snapshot is in force again; a daily
extract's rows are deleted and the day fails as never delivered until a file lands; an
open quarantine of the day is released with a note. The landing sensor re-runs the
day through the latest loaded day by itself when the day's daily files are there
(removing a file changes the day's fingerprint); otherwise run it (``make backfill``
or the UI).

Removing the file by hand does the same on the next run of the day; this command
keeps the file and says what to do next.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from restock.contract import EXTRACTS
from restock.ingest.gated import withdrawn_dir
from restock.ingest.landing import LandingError, expected_paths

MARKER_SUFFIX = ".done"


@dataclass(frozen=True)
class WithdrawnFile:
    source: Path  # where it was in the landing folder
    kept: Path  # where it is now
    marker: Path | None  # the moved marker, if there was one


def withdraw_file(
    landing_dir: Path,
    data_dir: Path,
    extract_name: str,
    day: date,
    *,
    reason: str | None = None,
    marker_suffix: str = MARKER_SUFFIX,
    now: datetime | None = None,
) -> WithdrawnFile:
    """Move the day's landing file (and marker) of ``extract_name`` under
    ``<data_dir>/withdrawn/``. Raises ``LandingError`` when there is none."""
    if extract_name not in EXTRACTS:
        raise LandingError(f"unknown extract {extract_name!r}; extracts are {', '.join(EXTRACTS)}")
    found = [p for p in expected_paths(Path(landing_dir), extract_name, day) if p.exists() or p.is_symlink()]
    if not found:
        wanted = " or ".join(str(p) for p in expected_paths(Path(landing_dir), extract_name, day))
        raise LandingError(
            f"{extract_name} for {day}: no file in the landing folder ({wanted}). If you removed it already, "
            "run the day again: the rows loaded from it are withdrawn then."
        )
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    folder = withdrawn_dir(data_dir) / extract_name / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    moved: list[WithdrawnFile] = []
    for path in found:  # normally one; two files for one day are both taken out
        kept = folder / f"{stamp}-{path.name}"
        shutil.move(str(path), kept)
        marker = path.with_name(path.name + marker_suffix)
        kept_marker = None
        if marker.exists():
            kept_marker = folder / f"{stamp}-{marker.name}"
            shutil.move(str(marker), kept_marker)
        moved.append(WithdrawnFile(path, kept, kept_marker))
    if reason:
        note = folder / f"{stamp}-reason.txt"
        note.write_text(reason.rstrip() + "\n", encoding="utf-8")
    return moved[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m restock.ingest.withdraw",
        description="Withdraw a delivered landing file: the day then runs as if it had never arrived.",
    )
    parser.add_argument("--extract", required=True, choices=sorted(EXTRACTS))
    parser.add_argument("--day", required=True, type=date.fromisoformat, help="the file's day, YYYY-MM-DD")
    parser.add_argument("--reason", help="kept next to the withdrawn file")
    args = parser.parse_args(argv)

    from restock.config import load_config
    from restock.settings import load_settings

    settings = load_settings()
    suffix = load_config(settings.config_path).landing.marker_suffix
    try:
        done = withdraw_file(
            settings.landing_dir, settings.data_dir, args.extract, args.day, reason=args.reason, marker_suffix=suffix
        )
    except LandingError as exc:
        print(f"withdraw: {exc}", file=sys.stderr)
        return 1
    delivery = EXTRACTS[args.extract].delivery
    effect = (
        "its rows of that day are deleted and the earlier snapshot is in force again"
        if delivery == "snapshot"
        else "its rows of that day are deleted and the day fails as never delivered until a new file lands"
    )
    print(f"withdrew {done.source}\n  kept as {done.kept}")
    print(
        f"Next run of {args.day}: {effect}; an open quarantine of the day is released.\n"
        f"The landing sensor runs {args.day} through the latest loaded day by itself when the day's daily "
        f"files are there. Otherwise: make backfill START={args.day} END=<last loaded day> "
        "(or the UI: Materialize all -> that partition range)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
