"""What has landed: which days have a complete delivery, and a fingerprint per day.

Used by the landing sensor to launch a partition once its required files are there,
and again when a file for that day is re-delivered (its fingerprint changes).
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

from restock.ingest.contract import EXTRACTS, FILE_SUFFIXES


def day_of_file(filename: str) -> date | None:
    """The day a landing file is for, from its name (<YYYY-MM-DD>.<suffix>), else None."""
    for suffix in FILE_SUFFIXES:
        if filename.endswith(suffix):
            try:
                return date.fromisoformat(filename[: -len(suffix)])
            except ValueError:
                return None
    return None


def scan_landing(landing_dir: Path) -> dict[date, dict[str, os.stat_result]]:
    """day -> {"<extract>/<file name>": stat} for every landing file named by a date."""
    days: dict[date, dict[str, os.stat_result]] = {}
    for extract in EXTRACTS:
        folder = landing_dir / extract
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                day = day_of_file(entry.name)
                if day is not None and entry.is_file():
                    days.setdefault(day, {})[f"{extract}/{entry.name}"] = entry.stat()
    return days


def is_complete(files: dict[str, os.stat_result]) -> bool:
    """Every extract delivered daily has its file for the day."""
    extracts = {name.split("/", 1)[0] for name in files}
    return all(e.name in extracts for e in EXTRACTS.values() if e.delivery == "daily")


def fingerprint(files: dict[str, os.stat_result]) -> str:
    digest = hashlib.sha1()
    for name in sorted(files):
        st = files[name]
        digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]
