"""Publish tables per as_of_date so BI tools can read them while a run writes.

Layout under ``RESTOCK_DATA_DIR`` (``data_dir``)::

    published/<table>/as_of_date=<YYYY-MM-DD>/data.parquet   one file per day
    published/_latest/<table>.parquet     hard link to (or copy of) the newest day
    published/_staging/<uuid>/            work area of a publish in progress
    serving.duckdb                        views over the files, opened read-only

Atomicity (POSIX filesystems: Linux, macOS; not Windows shares, where a rename
over a file that a reader holds open fails):

* A day is exactly one file. It is written and fsynced under ``_staging/`` (same
  filesystem), then put in place by one ``rename``: the whole staging folder is
  renamed to ``as_of_date=<day>/`` when the day is new (a rename to a missing name
  is atomic), or ``os.replace`` swaps the file when the day exists (rename over an
  existing file is atomic). A reader that lists the folder sees the old complete
  file or the new complete file, never a partial one and never two versions of a
  day, so a glob ``published/<table>/*/*.parquet`` is always consistent per day.
* The replaced version is unlinked by the rename itself. A reader that already has
  it open keeps reading the old inode to the end (POSIX keeps unlinked files alive
  while open); a reader that opens the path afterwards gets the new file. No grace
  period or delayed delete is needed, and there are no superseded versions to
  clean; :func:`cleanup_staging` only removes staging folders that a crashed
  publish left behind, and only when they are older than a threshold.
* ``serving.duckdb`` holds views whose definitions do not change when a day is
  published (``read_parquet`` over a glob, rebound at every query), so it is
  rewritten only when the set of tables or their descriptions change. It is then
  built under a temporary name and swapped in with ``os.replace``: DuckDB allows
  one writer or many readers per file, and the publisher never opens the served
  file for writing. Readers that opened the old file keep using it.
* ``<table>_latest`` reads ``_latest/<table>.parquet``, a single file that is
  swapped with ``os.replace`` after the day it points to is in place, so it is one
  complete day at every instant (it may trail a re-publish of the newest day by
  the few microseconds between the two renames).

Run one publisher per data directory at a time (the pipeline's single writer);
concurrent publishers of different days are still safe, of the same day the last
rename wins.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

PUBLISHED_DIR = "published"
STAGING_DIR = "_staging"
LATEST_DIR = "_latest"
SERVING_FILE = "serving.duckdb"
DATA_FILE = "data.parquet"
DAY_PREFIX = "as_of_date="
CATALOG_TABLE = "published_tables"  # in serving.duckdb: table_name, description, ...

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ROW_GROUP_SIZE = 122_880  # DuckDB's own row-group size: parallel scans per file


@dataclass(frozen=True)
class PublishResult:
    table: str
    as_of_date: date
    rows: int
    path: Path
    seconds: float
    replaced: bool  # True when the day existed and was replaced
    latest: bool  # True when this day is now the table's _latest


# ---------------------------------------------------------------- paths


def published_root(data_dir: Path) -> Path:
    return Path(data_dir) / PUBLISHED_DIR


def serving_path(data_dir: Path) -> Path:
    return Path(data_dir) / SERVING_FILE


def table_dir(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / _check_table_name(table)


def day_dir(data_dir: Path, table: str, as_of_date: date) -> Path:
    return table_dir(data_dir, table) / f"{DAY_PREFIX}{as_of_date.isoformat()}"


def latest_path(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / LATEST_DIR / f"{_check_table_name(table)}.parquet"


def parquet_glob(data_dir: Path, table: str) -> str:
    """The glob a Parquet reader uses for every published day of ``table``."""
    return str(table_dir(data_dir, table).resolve() / f"{DAY_PREFIX}*" / "*.parquet")


def _check_table_name(table: str) -> str:
    if not isinstance(table, str) or not _TABLE_NAME.match(table):
        raise ValueError(
            f"table name {table!r} is not valid: use lower-case letters, digits and _,"
            " starting with a letter"
        )
    if table.endswith("_latest"):
        raise ValueError(
            f"table name {table!r} must not end in '_latest': that suffix names the"
            " latest-day view of each table"
        )
    return table


# ---------------------------------------------------------------- frames


def _to_arrow(table: str, frame: Any) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(frame, pd.DataFrame):
        if not all(isinstance(c, str) for c in frame.columns):
            bad = [c for c in frame.columns if not isinstance(c, str)]
            raise ValueError(f"table {table!r}: column names must be text, got {bad!r}")
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ValueError(f"table {table!r}: cannot convert to Arrow: {exc}") from exc
    raise TypeError(
        f"table {table!r}: expected a pandas DataFrame or a pyarrow Table, got"
        f" {type(frame).__name__}"
    )


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value)
    if hasattr(value, "date") and callable(value.date):  # pandas.Timestamp
        return value.date()
    raise TypeError(f"not a date: {value!r}")


def prepare_frame(
    table: str,
    frame: Any,
    as_of_date: date | str | None = None,
    key_columns: list[str] | None = None,
) -> tuple[pa.Table, date]:
    """Validate ``frame`` and return it as Arrow with a date32 ``as_of_date`` column.

    Raises ValueError (naming the table and column) when: the frame has no
    ``as_of_date`` column and none is given; its as_of_date values are mixed, null,
    or differ from the one given; column names repeat; key columns are missing,
    null or not unique.
    """
    _check_table_name(table)
    data = _to_arrow(table, frame)
    names = data.column_names
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"table {table!r}: repeated column names {dupes}")
    wanted = _as_date(as_of_date) if as_of_date is not None else None

    if "as_of_date" in names:
        col = data.column("as_of_date")
        try:
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                col = col.cast(pa.date32())  # ISO text
            elif not pa.types.is_date32(col.type):
                col = col.cast(pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValueError(
                f"table {table!r}: column 'as_of_date' of type {data.column('as_of_date').type}"
                f" is not a date: {exc}"
            ) from exc
        if col.null_count:
            raise ValueError(
                f"table {table!r}: column 'as_of_date' has {col.null_count} null value(s)"
            )
        distinct = sorted(v for v in col.unique().to_pylist())
        if len(distinct) > 1:
            shown = ", ".join(d.isoformat() for d in distinct[:5])
            raise ValueError(
                f"table {table!r}: column 'as_of_date' mixes {len(distinct)} dates"
                f" ({shown}{', ...' if len(distinct) > 5 else ''}); publish one day at a time"
            )
        if distinct and wanted is not None and distinct[0] != wanted:
            raise ValueError(
                f"table {table!r}: column 'as_of_date' holds {distinct[0]} but the day being"
                f" published is {wanted}"
            )
        day = wanted if wanted is not None else (distinct[0] if distinct else None)
        if day is None:
            raise ValueError(
                f"table {table!r}: the frame is empty and no as_of_date was given"
            )
        data = data.set_column(
            names.index("as_of_date"), "as_of_date", pa.array([day] * len(data), pa.date32())
        )
    else:
        if wanted is None:
            raise ValueError(
                f"table {table!r}: the frame has no 'as_of_date' column and no as_of_date"
                " was given"
            )
        day = wanted
        data = data.append_column("as_of_date", pa.array([day] * len(data), pa.date32()))

    if key_columns:
        _check_keys(table, data, list(key_columns))
    return data, day


def _check_keys(table: str, data: pa.Table, key_columns: list[str]) -> None:
    missing = [c for c in key_columns if c not in data.column_names]
    if missing:
        raise ValueError(f"table {table!r}: key column(s) {missing} not in the frame")
    for c in key_columns:
        nulls = data.column(c).null_count
        if nulls:
            raise ValueError(f"table {table!r}: key column {c!r} has {nulls} null value(s)")
    if len(data) == 0:
        return
    counts = data.group_by(key_columns).aggregate([([], "count_all")])
    dup = counts.filter(pc.greater(counts.column("count_all"), 1))
    if len(dup):
        example = {c: dup.column(c)[0].as_py() for c in key_columns}
        raise ValueError(
            f"table {table!r}: key columns {key_columns} are not unique:"
            f" {len(dup)} key(s) repeat, e.g. {example}"
        )


# ---------------------------------------------------------------- publishing


def _fsync_dir(path: Path) -> None:
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


def _write_parquet(data: pa.Table, path: Path, metadata: dict[str, str]) -> None:
    schema_meta = dict(data.schema.metadata or {})
    schema_meta.pop(b"pandas", None)  # the pandas index/dtype blob is noise for BI
    schema_meta.update({k.encode(): v.encode() for k, v in metadata.items()})
    data = data.replace_schema_metadata(schema_meta)
    with open(path, "wb") as fh:
        pq.write_table(data, fh, compression="zstd", row_group_size=ROW_GROUP_SIZE)
        fh.flush()
        os.fsync(fh.fileno())


def published_days(data_dir: Path, table: str) -> list[date]:
    """The days of ``table`` that are published, oldest first."""
    root = table_dir(data_dir, table)
    if not root.is_dir():
        return []
    days = []
    for entry in os.scandir(root):
        if entry.name.startswith(DAY_PREFIX) and entry.is_dir():
            try:
                day = date.fromisoformat(entry.name[len(DAY_PREFIX):])
            except ValueError:
                continue
            if os.path.exists(os.path.join(entry.path, DATA_FILE)):
                days.append(day)
    return sorted(days)


def published_tables(data_dir: Path) -> list[str]:
    root = published_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        e.name
        for e in os.scandir(root)
        if e.is_dir() and _TABLE_NAME.match(e.name) and not e.name.endswith("_latest")
    )


def _swap_latest(data_dir: Path, table: str, source: Path, staging: Path) -> None:
    """Point _latest/<table>.parquet at ``source`` in one rename."""
    target = latest_path(data_dir, table)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging / "latest.parquet"
    try:
        os.link(source, tmp)
    except OSError:  # filesystems without hard links: a copy, still swapped atomically
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(tmp, target)
    _fsync_dir(target.parent)


def publish_day(
    data_dir: Path,
    table: str,
    as_of_date: date | str | None,
    frame: Any,
    key_columns: list[str] | None = None,
    *,
    description: str | None = None,
    refresh_serving: bool = True,
    postgres_url: str | None = None,
) -> PublishResult:
    """Publish one day of ``table``, replacing that day if it was published.

    ``frame`` is a pandas DataFrame or a pyarrow Table; an ``as_of_date`` column is
    added when missing (``as_of_date`` must then be given). Readers see the previous
    complete day or the new complete day (see the module docstring). With
    ``refresh_serving`` the serving file gets a view for the table the first time it
    is published. With ``postgres_url`` (default: ``RESTOCK_POSTGRES_URL``) the day is
    also loaded into PostgreSQL in one transaction.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    data, day = prepare_frame(table, frame, as_of_date, key_columns)
    run_id = uuid.uuid4().hex
    root = published_root(data_dir)
    staging = root / STAGING_DIR / f"{table}.{day.isoformat()}.{run_id}"
    staging.mkdir(parents=True)
    target_dir = day_dir(data_dir, table, day)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_parquet(
            data,
            staging / DATA_FILE,
            {
                "restock.table": table,
                "restock.as_of_date": day.isoformat(),
                "restock.run_id": run_id,
                "restock.published_at": datetime.now().astimezone().isoformat(),
                "restock.rows": str(len(data)),
            },
        )
        replaced = True
        if not target_dir.exists():
            try:
                # A new day: the whole folder appears at once.
                os.rename(staging, target_dir)
                replaced = False
            except OSError:
                # Someone created the day in between: fall back to a file swap.
                target_dir.mkdir(exist_ok=True)
        if replaced:
            os.replace(staging / DATA_FILE, target_dir / DATA_FILE)
        _fsync_dir(target_dir)
        _fsync_dir(target_dir.parent)

        days = published_days(data_dir, table)
        is_latest = bool(days) and day >= days[-1]
        if is_latest:
            work = staging if staging.exists() else staging.with_name(staging.name + ".l")
            work.mkdir(parents=True, exist_ok=True)
            try:
                _swap_latest(data_dir, table, target_dir / DATA_FILE, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    if refresh_serving:
        _ensure_table_served(data_dir, table, description)

    url = postgres_url if postgres_url is not None else os.environ.get("RESTOCK_POSTGRES_URL")
    if url:
        from restock.publish.postgres import load_day

        load_day(url, table, day, data)

    seconds = time.perf_counter() - started
    result = PublishResult(
        table=table,
        as_of_date=day,
        rows=len(data),
        path=target_dir / DATA_FILE,
        seconds=seconds,
        replaced=replaced,
        latest=is_latest,
    )
    log.info(
        "published %s as_of_date=%s: %d rows in %.2fs (%s%s)",
        table,
        day,
        len(data),
        seconds,
        "replaced" if replaced else "new day",
        ", latest" if is_latest else "",
    )
    return result


def cleanup_staging(data_dir: Path, older_than: timedelta = timedelta(hours=6)) -> list[Path]:
    """Remove staging folders left by crashed publishes, if older than ``older_than``.

    Published days never leave superseded files behind (the rename that publishes a
    version unlinks the previous one; open readers keep it until they close it), so
    this is the only cleanup. The age threshold keeps a publish in progress in
    another process safe.
    """
    root = published_root(data_dir) / STAGING_DIR
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    cutoff = time.time() - older_than.total_seconds()
    for entry in os.scandir(root):
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(Path(entry.path))
        except FileNotFoundError:
            continue
    for path in removed:
        log.info("removed stale staging folder %s", path)
    for name in os.listdir(Path(data_dir)) if Path(data_dir).is_dir() else []:
        if name.startswith(SERVING_FILE + ".tmp-"):
            path = Path(data_dir) / name
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
                log.info("removed stale serving temp file %s", path)
    return removed


# ---------------------------------------------------------------- serving.duckdb


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
    tables: Mapping[str, str] | Iterable[str] | None = None,
) -> Path:
    """(Re)build serving.duckdb: views ``<table>`` (all days) and ``<table>_latest``.

    ``tables`` maps table name to description (or lists names). Tables already served
    and tables found under published/ are kept; a table with no published day yet
    gets no view (DuckDB cannot type a view over no file) and is logged. The file is
    built under a temporary name and swapped in with os.replace, so readers never
    see a half-built catalog and are never blocked; readers that opened the previous
    file keep it until they reconnect. The views read the Parquet files at query
    time, so publishing a day does not require rebuilding this file.
    """
    import duckdb

    data_dir = Path(data_dir)
    wanted: dict[str, str] = dict(_read_catalog(data_dir))
    for name in published_tables(data_dir):
        wanted.setdefault(name, "")
    if tables is not None:
        items = tables.items() if isinstance(tables, Mapping) else ((t, None) for t in tables)
        for name, desc in items:
            _check_table_name(name)
            if desc is not None or name not in wanted:
                wanted[name] = desc or wanted.get(name, "")

    data_dir.mkdir(parents=True, exist_ok=True)
    target = serving_path(data_dir)
    tmp = data_dir / f"{SERVING_FILE}.tmp-{uuid.uuid4().hex}"
    served = []
    con = duckdb.connect(str(tmp))
    try:
        con.execute(
            f"CREATE TABLE {CATALOG_TABLE} (table_name VARCHAR PRIMARY KEY, description VARCHAR,"
            " parquet_glob VARCHAR, latest_parquet VARCHAR, has_view BOOLEAN)"
        )
        for name in sorted(wanted):
            desc = wanted[name]
            glob = parquet_glob(data_dir, name)
            latest = str(latest_path(data_dir, name).resolve())
            has_view = bool(published_days(data_dir, name)) and os.path.exists(latest)
            con.execute(
                f"INSERT INTO {CATALOG_TABLE} VALUES (?, ?, ?, ?, ?)",
                [name, desc, glob, latest, has_view],
            )
            if not has_view:
                log.warning("table %s has no published day yet: no view in %s", name, target)
                continue
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({_sql_text(glob)},'
                " hive_partitioning = true, union_by_name = true)"
            )
            con.execute(
                f'CREATE VIEW "{name}_latest" AS SELECT * FROM read_parquet({_sql_text(latest)})'
            )
            if desc:
                con.execute(f'COMMENT ON VIEW "{name}" IS {_sql_text(desc)}')
                con.execute(
                    f'COMMENT ON VIEW "{name}_latest" IS'
                    f" {_sql_text(desc + ' (latest as_of_date only)')}"
                )
            served.append(name)
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    _fsync_dir(data_dir)
    log.info("serving file %s: views for %s", target, ", ".join(served) or "no table")
    return target


def _ensure_table_served(data_dir: Path, table: str, description: str | None) -> None:
    catalog = _read_catalog(data_dir)
    if table in catalog and (description is None or catalog[table] == description):
        if _has_view(data_dir, table):
            return
    ensure_serving(data_dir, {table: description} if description is not None else [table])


def _has_view(data_dir: Path, table: str) -> bool:
    import duckdb

    con = duckdb.connect(str(serving_path(data_dir)), read_only=True)
    try:
        row = con.execute(
            f"SELECT has_view FROM {CATALOG_TABLE} WHERE table_name = ?", [table]
        ).fetchone()
    finally:
        con.close()
    return bool(row and row[0])
