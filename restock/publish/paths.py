"""Where published tables live under ``data_dir``, and which version each link points at.

Layout (the why: ``restock.publish.versions``)::

    serving.duckdb                          views over the current files (read-only)
    published/<table>/as_of_date=<day>      symlink -> the day's current version folder
    published/_latest/<table>               symlink -> the newest day's version folder
    published/_versions/<table>/as_of_date=<day>/<run_id>/part-<run_id>.parquet
    published/report/<day>.html             the daily HTML report (restock.publish.daily_report)
    published/report/report_latest.html     a copy of the newest day's report

Everything here only reads the filesystem (``fsync_dir`` aside, which makes a rename
or link in a directory durable, for both the publisher and serving.duckdb).
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

PUBLISHED_DIR = "published"
VERSIONS_DIR = "_versions"
LATEST_DIR = "_latest"
SERVING_FILE = "serving.duckdb"
DAY_PREFIX = "as_of_date="
REPORT_DIR = "report"  # under published/: the daily HTML reports, not a table
REPORT_LATEST = "report_latest.html"
REPORT_NAME = re.compile(r"\d{4}-\d{2}-\d{2}\.html")  # a day's report file

TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check_table_name(table: str) -> str:
    """``table`` when it is a valid published-table name; ValueError saying why not."""
    if not isinstance(table, str) or not TABLE_NAME.match(table):
        raise ValueError(
            f"table name {table!r} is not valid: use lower-case letters, digits and _, starting with a letter"
        )
    if table.endswith("_latest"):
        raise ValueError(
            f"table name {table!r} must not end in '_latest': that suffix names the latest-day view of each table"
        )
    if table == REPORT_DIR:
        raise ValueError(f"table name {table!r} is reserved: published/{REPORT_DIR} holds the daily HTML reports")
    return table


def published_root(data_dir: Path) -> Path:
    return Path(data_dir) / PUBLISHED_DIR


def serving_path(data_dir: Path) -> Path:
    return Path(data_dir) / SERVING_FILE


def table_dir(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / check_table_name(table)


def day_link(data_dir: Path, table: str, as_of_date: date) -> Path:
    return table_dir(data_dir, table) / f"{DAY_PREFIX}{as_of_date.isoformat()}"


def latest_link(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / LATEST_DIR / check_table_name(table)


def versions_dir(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / VERSIONS_DIR / check_table_name(table)


def parquet_glob(data_dir: Path, table: str) -> str:
    """The glob a Parquet reader uses for every published day of ``table``."""
    return str(table_dir(data_dir, table).absolute() / f"{DAY_PREFIX}*" / "*.parquet")


def latest_glob(data_dir: Path, table: str) -> str:
    return str(latest_link(data_dir, table).absolute() / "*.parquet")


# ---------------------------------------------------------------- what is current


def link_target(link: Path) -> Path | None:
    """The version folder ``link`` points at; None when there is no such link."""
    try:
        raw = os.readlink(link)
    except OSError:
        return None
    return Path(os.path.normpath(link.parent / raw))


def version_file(version: Path) -> Path | None:
    """The data file of a version folder (each holds one); None when it has none."""
    files = sorted(version.glob("*.parquet"))
    return files[0] if files else None


def current_files(data_dir: Path, table: str) -> dict[date, Path]:
    """as_of_date -> the current (immutable) data file of that day."""
    root = table_dir(data_dir, table)
    if not root.is_dir():
        return {}
    out: dict[date, Path] = {}
    for entry in os.scandir(root):
        if not entry.name.startswith(DAY_PREFIX) or not entry.is_symlink():
            continue
        try:
            day = date.fromisoformat(entry.name[len(DAY_PREFIX) :])
        except ValueError:
            continue
        target = link_target(Path(entry.path))
        data_file = version_file(target) if target is not None and target.is_dir() else None
        if data_file is not None:
            out[day] = data_file
    return dict(sorted(out.items()))


def published_days(data_dir: Path, table: str) -> list[date]:
    """The days of ``table`` that are published, oldest first."""
    return list(current_files(data_dir, table))


def published_tables(data_dir: Path) -> list[str]:
    """The tables with a folder under published/, by name (the report folder is none)."""
    root = published_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        e.name
        for e in os.scandir(root)
        if e.is_dir(follow_symlinks=False)
        and TABLE_NAME.match(e.name)
        and not e.name.endswith("_latest")
        and e.name != REPORT_DIR
    )


def report_dir(data_dir: Path) -> Path:
    """Where the daily HTML reports are: published/report/."""
    return published_root(data_dir) / REPORT_DIR


def report_path(data_dir: Path, as_of_date: date) -> Path:
    return report_dir(data_dir) / f"{as_of_date.isoformat()}.html"


def report_days(data_dir: Path) -> dict[date, Path]:
    """as_of_date -> its report file, oldest first (report_latest.html and temporary files left out)."""
    root = report_dir(data_dir)
    if not root.is_dir():
        return {}
    out: dict[date, Path] = {}
    for entry in os.scandir(root):
        if not REPORT_NAME.fullmatch(entry.name) or not entry.is_file():
            continue
        try:
            out[date.fromisoformat(entry.name[:10])] = Path(entry.path)
        except ValueError:
            continue
    return dict(sorted(out.items()))


def fsync_dir(path: Path) -> None:
    """Flush a directory, so a rename or link made in it survives a crash."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
