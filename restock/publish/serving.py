"""serving.duckdb: the read-only DuckDB file BI tools open, rebuilt after each publish.

Its views name the current data files explicitly (resolved paths, not through the
day symlinks), so a query bound on one serving file sees one consistent set of
files. The file is rebuilt under a temporary name and swapped in with ``os.replace``:
the publisher never opens the served file for writing (DuckDB allows one writer or
many readers), readers are never blocked, and a reader that opened the previous file
keeps its snapshot until it reconnects (its files outlive it for the grace period
of ``restock.publish.versions.cleanup_versions``).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from restock.publish.paths import (
    REPORT_LATEST,
    SERVING_FILE,
    check_table_name,
    current_files,
    fsync_dir,
    latest_glob,
    latest_link,
    link_target,
    parquet_glob,
    published_tables,
    report_dir,
    serving_path,
    version_file,
)

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

CATALOG_TABLE = "published_tables"  # in serving.duckdb: one row per table
FILES_TABLE = "published_files"  # in serving.duckdb: the data file behind each table-day
REPORTS_VIEW = "daily_reports"  # in serving.duckdb: the daily HTML reports, one row per day


def _read_catalog(data_dir: Path) -> dict[str, str]:
    """table -> description, from the current serving file ({} when absent)."""
    path = serving_path(data_dir)
    if not path.exists():
        return {}
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        log.warning("cannot read %s (%s); it will be rebuilt", path, exc)
        return {}
    try:
        rows = con.execute(f"SELECT table_name, description FROM {CATALOG_TABLE}").fetchall()
    except duckdb.Error:
        rows = []
    finally:
        con.close()
    return {name: (desc or "") for name, desc in rows}


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ensure_serving(
    data_dir: Path,
    tables: Mapping[str, str | None] | Iterable[str] | None = None,
) -> Path:
    """(Re)build serving.duckdb: views ``<table>`` (all days) and ``<table>_latest``.

    ``tables`` maps table name to description (or lists names). Tables already served
    and tables found under published/ are kept, with their descriptions. A table with
    no published day yet gets no view (DuckDB cannot type a view over no file); it is
    listed in ``published_tables`` with has_view = false. View ``daily_reports`` lists
    the daily HTML reports (published/report/<day>.html). The views name the current
    data files, so this runs after every publish (``publish_day`` does it). The file
    is built under a temporary name and swapped in with os.replace: readers never see
    a half-built catalog and are never blocked; a reader that opened the previous
    file keeps that snapshot (its files are kept for the grace period).
    """
    import duckdb

    data_dir = Path(data_dir)
    wanted: dict[str, str] = dict(_read_catalog(data_dir))
    for name in published_tables(data_dir):
        wanted.setdefault(name, "")
    if tables is not None:
        items = tables.items() if isinstance(tables, Mapping) else ((t, None) for t in tables)
        for name, desc in items:
            check_table_name(name)
            if desc is not None or name not in wanted:
                wanted[name] = desc or wanted.get(name, "")

    data_dir.mkdir(parents=True, exist_ok=True)
    target = serving_path(data_dir)
    tmp = data_dir / f"{SERVING_FILE}.tmp-{uuid.uuid4().hex}"
    served = []
    con = duckdb.connect(str(tmp))
    try:
        con.execute(
            f"CREATE TABLE {CATALOG_TABLE} (table_name VARCHAR PRIMARY KEY,"
            " description VARCHAR, parquet_glob VARCHAR, latest_glob VARCHAR,"
            " days INTEGER, first_day DATE, latest_day DATE, has_view BOOLEAN)"
        )
        con.execute(f"CREATE TABLE {FILES_TABLE} (table_name VARCHAR, as_of_date DATE, path VARCHAR)")
        for name in sorted(wanted):
            desc = wanted[name]
            files = current_files(data_dir, name)
            latest = link_target(latest_link(data_dir, name))
            latest_file = version_file(latest) if latest is not None and latest.is_dir() else None
            has_view = bool(files) and latest_file is not None
            con.execute(
                f"INSERT INTO {CATALOG_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    desc,
                    parquet_glob(data_dir, name),
                    latest_glob(data_dir, name),
                    len(files),
                    min(files) if files else None,
                    max(files) if files else None,
                    has_view,
                ],
            )
            if files:
                con.executemany(
                    f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?)",
                    [[name, day, str(path.absolute())] for day, path in files.items()],
                )
            if not has_view or latest_file is None:
                log.warning("table %s has no published day yet: no view in %s", name, target)
                continue
            paths = ", ".join(_sql_text(str(p.absolute())) for p in files.values())
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{paths}], union_by_name = true)')
            con.execute(
                f'CREATE VIEW "{name}_latest" AS SELECT * FROM read_parquet({_sql_text(str(latest_file.absolute()))})'
            )
            if desc:
                con.execute(f'COMMENT ON VIEW "{name}" IS {_sql_text(desc)}')
                con.execute(f'COMMENT ON VIEW "{name}_latest" IS {_sql_text(desc + " (latest as_of_date only)")}')
            served.append(name)
        _create_reports_view(con, data_dir)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    fsync_dir(data_dir)
    log.debug("serving file %s: views for %s", target, ", ".join(served) or "no table")
    return target


def _create_reports_view(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """View ``daily_reports`` (as_of_date, path, is_latest): the HTML report files of
    published/report/, listed when queried (DuckDB's glob), so it is current without a
    rebuild whenever a report is written or removed."""
    folder = report_dir(data_dir).absolute()
    pattern = _sql_text(str(folder / "*.html"))
    con.execute(
        rf"""CREATE VIEW {REPORTS_VIEW} AS
            WITH files AS (
                SELECT CAST(regexp_extract(file, '(\d{{4}}-\d{{2}}-\d{{2}})\.html$', 1) AS DATE) AS as_of_date,
                       file AS path
                FROM glob({pattern})
                WHERE regexp_matches(file, '/\d{{4}}-\d{{2}}-\d{{2}}\.html$'))
            SELECT as_of_date, path, as_of_date = max(as_of_date) OVER () AS is_latest FROM files"""
    )
    comment = (
        "The daily HTML report of each published day (restock/publish/daily_report.py); "
        f"{folder / REPORT_LATEST} is a copy of the newest one"
    )
    con.execute(f"COMMENT ON VIEW {REPORTS_VIEW} IS {_sql_text(comment)}")


def served_files(data_dir: Path) -> set[Path] | None:
    """The data files the current serving.duckdb names (None: no readable serving
    file, or one written before it listed its files)."""
    path = serving_path(data_dir)
    if not path.exists():
        return None
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return {Path(r[0]) for r in con.execute(f"SELECT path FROM {FILES_TABLE}").fetchall()}
    except duckdb.Error:
        return None
    finally:
        con.close()


def serving_is_current(data_dir: Path) -> bool:
    """True when serving.duckdb names exactly the current data file of every published
    table-day (a run killed between a link swap and the rebuild leaves it naming the
    previous ones)."""
    served = served_files(data_dir)
    current = {p.absolute() for t in published_tables(data_dir) for p in current_files(data_dir, t).values()}
    return served == current
