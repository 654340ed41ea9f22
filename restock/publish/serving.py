"""Publish tables per as_of_date so BI tools can read them while a run writes.

Layout under ``RESTOCK_DATA_DIR`` (``data_dir``)::

    serving.duckdb                          views over the current files (read-only)
    published/<table>/as_of_date=<day>      symlink -> the day's current version folder
    published/_latest/<table>               symlink -> the newest day's version folder
    published/_versions/<table>/as_of_date=<day>/<run_id>/part-<run_id>.parquet

Why this shape (POSIX filesystems: Linux, macOS; see docs for Windows):

* A data file is written once under a name no other version uses, fsynced, and
  never modified. DuckDB reads a file's footer when a query is bound and opens the
  file again to scan it, and it lists a glob once: a file replaced in place under
  the same name between those moments gives garbage or wrong results (measured:
  "TProtocolException: Invalid data" and wrong aggregates). Immutable names avoid it.
* A day is published by swapping one symlink (``os.replace`` of a new link over the
  old one is atomic): anyone listing ``published/<table>/*/*.parquet`` sees, for each
  day, the old complete version or the new complete version, never both, never a
  half-written file. ``_latest/<table>`` is swapped the same way.
* ``serving.duckdb`` views name the current files explicitly (resolved paths, not
  through the symlinks), so a query bound on one serving file sees one consistent
  set of files. The file is rebuilt under a temporary name and swapped in with
  ``os.replace`` after each publish: the publisher never opens the served file for
  writing (DuckDB allows one writer or many readers), readers are never blocked, and
  a reader that opened the previous file keeps its snapshot until it reconnects.
* Superseded versions are kept for a grace period (``cleanup_versions``, default 24
  h after they were superseded), so readers that bound the previous serving file or
  listed the previous version keep working. A glob reader that lists a day and
  opens its file after the day was re-published in between gets a clear "no such
  file" error (retry the query), never another version's bytes: paths through the
  day symlink cannot keep pointing at the old version. Serving readers never do.

Run one publisher per data directory at a time (the pipeline's single writer).
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
VERSIONS_DIR = "_versions"
LATEST_DIR = "_latest"
SERVING_FILE = "serving.duckdb"
DAY_PREFIX = "as_of_date="
SUPERSEDED_MARKER = "_superseded"  # in a version folder: when it stopped being current
CATALOG_TABLE = "published_tables"  # in serving.duckdb: one row per table
DEFAULT_GRACE = timedelta(hours=24)

_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ROW_GROUP_SIZE = 122_880  # DuckDB's own row-group size: parallel scans per file


@dataclass(frozen=True)
class PublishResult:
    table: str
    as_of_date: date
    rows: int
    path: Path  # the immutable data file of this version
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


def day_link(data_dir: Path, table: str, as_of_date: date) -> Path:
    return table_dir(data_dir, table) / f"{DAY_PREFIX}{as_of_date.isoformat()}"


def latest_link(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / LATEST_DIR / _check_table_name(table)


def versions_dir(data_dir: Path, table: str) -> Path:
    return published_root(data_dir) / VERSIONS_DIR / _check_table_name(table)


def parquet_glob(data_dir: Path, table: str) -> str:
    """The glob a Parquet reader uses for every published day of ``table``."""
    return str(table_dir(data_dir, table).absolute() / f"{DAY_PREFIX}*" / "*.parquet")


def latest_glob(data_dir: Path, table: str) -> str:
    return str(latest_link(data_dir, table).absolute() / "*.parquet")


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


def _swap_link(link: Path, target: Path) -> Path | None:
    """Point ``link`` at ``target`` in one rename; return the previous target."""
    link.parent.mkdir(parents=True, exist_ok=True)
    previous = _current_target(link)
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.tmp")
    os.symlink(os.path.relpath(target, link.parent), tmp, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(link.parent)
    return previous


def _current_target(link: Path) -> Path | None:
    try:
        raw = os.readlink(link)
    except (FileNotFoundError, OSError):
        return None
    return Path(os.path.normpath(link.parent / raw))


def _version_file(version: Path) -> Path | None:
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
            day = date.fromisoformat(entry.name[len(DAY_PREFIX):])
        except ValueError:
            continue
        target = _current_target(Path(entry.path))
        data_file = _version_file(target) if target is not None and target.is_dir() else None
        if data_file is not None:
            out[day] = data_file
    return dict(sorted(out.items()))


def published_days(data_dir: Path, table: str) -> list[date]:
    """The days of ``table`` that are published, oldest first."""
    return list(current_files(data_dir, table))


def published_tables(data_dir: Path) -> list[str]:
    root = published_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(
        e.name
        for e in os.scandir(root)
        if e.is_dir(follow_symlinks=False)
        and _TABLE_NAME.match(e.name)
        and not e.name.endswith("_latest")
    )


def _mark_superseded(version: Path | None, keep: Path) -> None:
    if version is None or version == keep or not version.is_dir():
        return
    (version / SUPERSEDED_MARKER).write_text(datetime.now().astimezone().isoformat())


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
    ``refresh_serving`` serving.duckdb is rebuilt to name the new file. With
    ``postgres_url`` (default: ``RESTOCK_POSTGRES_URL``) the day is then also loaded
    into PostgreSQL in one transaction; if that fails the error is raised (the
    Parquet day is already published: re-run the publish).
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    data, day = prepare_frame(table, frame, as_of_date, key_columns)
    run_id = f"{datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    version = versions_dir(data_dir, table) / f"{DAY_PREFIX}{day.isoformat()}" / run_id
    version.mkdir(parents=True)
    data_file = version / f"part-{run_id}.parquet"
    try:
        _write_parquet(
            data,
            data_file,
            {
                "restock.table": table,
                "restock.as_of_date": day.isoformat(),
                "restock.run_id": run_id,
                "restock.published_at": datetime.now().astimezone().isoformat(),
                "restock.rows": str(len(data)),
            },
        )
        _fsync_dir(version)
        _fsync_dir(version.parent)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise

    previous = _swap_link(day_link(data_dir, table, day), version)
    replaced = previous is not None
    days = published_days(data_dir, table)
    is_latest = bool(days) and day >= days[-1]
    if is_latest:
        # the previous latest is either ``previous`` (same day) or still a current day
        _swap_link(latest_link(data_dir, table), version)
    _mark_superseded(previous, version)

    if refresh_serving:
        ensure_serving(data_dir, {table: description} if description is not None else [table])

    url = postgres_url if postgres_url is not None else os.environ.get("RESTOCK_POSTGRES_URL")
    if url:
        from restock.publish.postgres import load_day

        load_day(url, table, day, data)

    seconds = time.perf_counter() - started
    log.info(
        "published %s as_of_date=%s: %d rows in %.2fs (%s%s)",
        table,
        day,
        len(data),
        seconds,
        "replaced" if replaced else "new day",
        ", latest" if is_latest else "",
    )
    return PublishResult(
        table=table,
        as_of_date=day,
        rows=len(data),
        path=data_file,
        seconds=seconds,
        replaced=replaced,
        latest=is_latest,
    )


def row_count(data_dir: Path, table: str, as_of_date: date) -> int:
    """Rows of the published day (from the Parquet footer); 0 when not published."""
    data_file = current_files(data_dir, table).get(_as_date(as_of_date))
    return pq.ParquetFile(data_file).metadata.num_rows if data_file is not None else 0


def unpublish_day(data_dir: Path, table: str, as_of_date: date | str, *, postgres_url: str | None = None) -> bool:
    """Stop serving one day of ``table`` (retention); never the table's latest day.

    The day's link is removed in one unlink (listers see the day or not at all) and
    its version is marked superseded, so readers bound to it keep working for the
    grace period. Call ``ensure_serving`` afterwards. Returns False if not published.
    """
    data_dir = Path(data_dir)
    day = _as_date(as_of_date)
    link = day_link(data_dir, table, day)
    version = _current_target(link)
    if version is None:
        return False
    if _current_target(latest_link(data_dir, table)) == version:
        raise ValueError(f"table {table!r}: {day} is the latest published day; it cannot be unpublished")
    link.unlink()
    _fsync_dir(link.parent)
    if version.is_dir():
        (version / SUPERSEDED_MARKER).write_text(datetime.now().astimezone().isoformat())
    url = postgres_url if postgres_url is not None else os.environ.get("RESTOCK_POSTGRES_URL")
    if url:
        from restock.publish.postgres import delete_day

        delete_day(url, table, day)
    log.info("unpublished %s as_of_date=%s", table, day)
    return True


def published_state(data_dir: Path) -> dict[str, str]:
    """What readers can reach, as {path: sha256 or link target}: every file and link
    under published/ (links followed, their targets recorded) and serving.duckdb.

    Equal before and after a run = the run changed nothing a reader sees (tests of
    failed gates use it; so can an operator auditing a re-run).
    """
    import hashlib

    data_dir = Path(data_dir)
    state: dict[str, str] = {}
    root = published_root(data_dir)
    for folder, dirs, files in os.walk(root, followlinks=True):
        for name in sorted(dirs + files):
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                state[f"{rel} ->"] = os.readlink(path)
            if path.is_file():
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    serving = serving_path(data_dir)
    if serving.exists():
        state[SERVING_FILE] = hashlib.sha256(serving.read_bytes()).hexdigest()
    return state


def cleanup_versions(data_dir: Path, grace: timedelta = DEFAULT_GRACE) -> list[Path]:
    """Delete version folders superseded more than ``grace`` ago.

    Also deletes folders of publishes that crashed before their swap (not current,
    never marked superseded) once they are older than ``grace``. A current version
    (the target of a day or _latest link) is never deleted. Readers that bound a
    serving file or listed a glob less than ``grace`` ago keep working; a DuckDB
    connection held open longer than ``grace`` must reconnect.
    """
    root = published_root(data_dir) / VERSIONS_DIR
    if not root.is_dir():
        return []
    current: set[Path] = set()
    for table in os.listdir(root):
        for link_dir in (published_root(data_dir) / table, published_root(data_dir) / LATEST_DIR):
            if not link_dir.is_dir():
                continue
            for entry in os.scandir(link_dir):
                if entry.is_symlink():
                    target = _current_target(Path(entry.path))
                    if target is not None:
                        current.add(target)
    cutoff = time.time() - grace.total_seconds()
    removed: list[Path] = []
    for table in os.listdir(root):
        for day in os.scandir(root / table):
            for version in os.scandir(day.path):
                path = Path(version.path)
                if path in current:
                    continue
                marker = path / SUPERSEDED_MARKER
                try:
                    stamp = (marker if marker.exists() else path).stat().st_mtime
                except FileNotFoundError:
                    continue
                if stamp < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
                    log.info("removed superseded version %s", path)
            if not os.listdir(day.path):
                os.rmdir(day.path)
    for name in os.listdir(data_dir):
        if name.startswith(SERVING_FILE + ".tmp-"):
            path = Path(data_dir) / name
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
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
    tables: Mapping[str, str | None] | Iterable[str] | None = None,
) -> Path:
    """(Re)build serving.duckdb: views ``<table>`` (all days) and ``<table>_latest``.

    ``tables`` maps table name to description (or lists names). Tables already served
    and tables found under published/ are kept, with their descriptions. A table with
    no published day yet gets no view (DuckDB cannot type a view over no file); it is
    listed in ``published_tables`` with has_view = false. The views name the current
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
            f"CREATE TABLE {CATALOG_TABLE} (table_name VARCHAR PRIMARY KEY,"
            " description VARCHAR, parquet_glob VARCHAR, latest_glob VARCHAR,"
            " days INTEGER, first_day DATE, latest_day DATE, has_view BOOLEAN)"
        )
        for name in sorted(wanted):
            desc = wanted[name]
            files = current_files(data_dir, name)
            latest = _current_target(latest_link(data_dir, name))
            latest_file = _version_file(latest) if latest is not None and latest.is_dir() else None
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
            if not has_view:
                log.warning("table %s has no published day yet: no view in %s", name, target)
                continue
            paths = ", ".join(_sql_text(str(p.absolute())) for p in files.values())
            con.execute(
                f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{paths}],'
                " union_by_name = true)"
            )
            con.execute(
                f'CREATE VIEW "{name}_latest" AS SELECT * FROM'
                f" read_parquet({_sql_text(str(latest_file.absolute()))})"
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
    log.debug("serving file %s: views for %s", target, ", ".join(served) or "no table")
    return target
