"""What has landed: which days have a complete delivery, and a fingerprint per day.

Used by the landing sensor to launch a partition once its required files are there
and delivered, and again when a file for that day is re-delivered (its fingerprint
changes).

The complete-delivery rule (settings: the ``landing`` section of restock.yaml). A
file counts as delivered when either

* its marker ``<file name><marker_suffix>`` (default ``.done``, e.g.
  ``orders/2025-03-02.csv.done``; an empty file the sender writes after the data file
  is complete) exists next to it and is not older than the data file, or
* it has no such marker and has not changed for ``settle_seconds`` (default 120):
  its mtime is at least that far in the past when the sensor looks (a write changes
  the mtime, so an unchanged mtime means an unchanged size too).

A marker older than its data file means the file was re-written after the marker, so
it does not count (the settle rule still applies). A day is launched once every daily
extract has its file and every file of the day is delivered.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from restock.contract import EXTRACTS, day_of_file

DEFAULT_SETTLE_SECONDS = 120
DEFAULT_MARKER_SUFFIX = ".done"


@dataclass(frozen=True)
class LandingFile:
    """A landing data file as the sensor sees it."""

    size: int
    mtime_ns: int
    marker_mtime_ns: int | None = None  # mtime of its marker file, None without one


def scan_landing(landing_dir: Path, marker_suffix: str = DEFAULT_MARKER_SUFFIX) -> dict[date, dict[str, LandingFile]]:
    """day -> {"<extract>/<file name>": LandingFile} for every landing data file named by a date."""
    days: dict[date, dict[str, LandingFile]] = {}
    for extract in EXTRACTS:
        folder = landing_dir / extract
        if not folder.is_dir():
            continue
        data: dict[str, tuple[date, os.stat_result]] = {}
        markers: dict[str, int] = {}  # data file name -> marker mtime
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.is_file():
                    continue
                day = day_of_file(entry.name)
                if day is not None:
                    data[entry.name] = (day, entry.stat())
                elif entry.name.endswith(marker_suffix):
                    markers[entry.name[: -len(marker_suffix)]] = entry.stat().st_mtime_ns
        for name, (day, st) in data.items():
            days.setdefault(day, {})[f"{extract}/{name}"] = LandingFile(st.st_size, st.st_mtime_ns, markers.get(name))
    return days


def is_complete(files: dict[str, LandingFile]) -> bool:
    """Every extract delivered daily has its file for the day (present; see :func:`still_being_written`)."""
    extracts = {name.split("/", 1)[0] for name in files}
    return all(e.name in extracts for e in EXTRACTS.values() if e.delivery == "daily")


def is_delivered(file: LandingFile, now: float, settle_seconds: int = DEFAULT_SETTLE_SECONDS) -> bool:
    """The complete-delivery rule for one file, looked at ``now`` (seconds since the epoch)."""
    if file.marker_mtime_ns is not None and file.marker_mtime_ns >= file.mtime_ns:
        return True
    return file.mtime_ns <= int(now * 1_000_000_000) - settle_seconds * 1_000_000_000


def still_being_written(
    files: dict[str, LandingFile], now: float, settle_seconds: int = DEFAULT_SETTLE_SECONDS
) -> list[str]:
    """Names of the day's files that do not count as delivered yet (sorted)."""
    return sorted(name for name, file in files.items() if not is_delivered(file, now, settle_seconds))


def fingerprint(files: dict[str, LandingFile]) -> str:
    """Changes when a data file is re-delivered (new size or mtime); markers do not count."""
    digest = hashlib.sha1()
    for name in sorted(files):
        f = files[name]
        digest.update(f"{name}:{f.size}:{f.mtime_ns};".encode())
    return digest.hexdigest()[:16]
