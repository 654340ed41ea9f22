"""Publishing a table's day as an immutable Parquet version behind symlinks.

Layout: ``restock.publish.paths``. Why this shape (POSIX filesystems: Linux, macOS;
see docs for Windows):

* A data file is written once under a name no other version uses, fsynced, and
  never modified. DuckDB reads a file's footer when a query is bound and opens the
  file again to scan it, and it lists a glob once: a file replaced in place under
  the same name between those moments gives garbage or wrong results (measured:
  "TProtocolException: Invalid data" and wrong aggregates). Immutable names avoid it.
* A day is published by swapping one symlink (``os.replace`` of a new link over the
  old one is atomic): anyone listing ``published/<table>/*/*.parquet`` sees, for each
  day, the old complete version or the new complete version, never both, never a
  half-written file. ``_latest/<table>`` is swapped the same way.
* serving.duckdb names the current files and is swapped in after each publish
  (``restock.publish.serving``).
* Superseded versions are kept for a grace period (``cleanup_versions``, default 24
  h after they were superseded), so readers that bound the previous serving file or
  listed the previous version keep working. A glob reader that lists a day and
  opens its file after the day was re-published in between gets a clear "no such
  file" error (retry the query), never another version's bytes: paths through the
  day symlink cannot keep pointing at the old version. Serving readers never do.

Run one publisher per data directory at a time (the pipeline's single writer).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from restock.publish.frames import as_date, prepare_frame
from restock.publish.paths import (
    DAY_PREFIX,
    LATEST_DIR,
    SERVING_FILE,
    VERSIONS_DIR,
    current_files,
    day_link,
    fsync_dir,
    latest_link,
    link_target,
    published_days,
    published_root,
    serving_path,
    versions_dir,
)
from restock.publish.postgres import DEFAULT_SCHEMA, delete_day, load_day
from restock.publish.serving import ensure_serving

log = logging.getLogger(__name__)

SUPERSEDED_MARKER = "_superseded"  # in a version folder: when it stopped being current
DEFAULT_GRACE = timedelta(hours=24)
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
    previous = link_target(link)
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.tmp")
    os.symlink(os.path.relpath(target, link.parent), tmp, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(link.parent)
    return previous


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
    postgres_schema: str = DEFAULT_SCHEMA,
) -> PublishResult:
    """Publish one day of ``table``, replacing that day if it was published.

    ``frame`` is a pandas DataFrame or a pyarrow Table; an ``as_of_date`` column is
    added when missing (``as_of_date`` must then be given). Readers see the previous
    complete day or the new complete day (see the module docstring). With
    ``refresh_serving`` serving.duckdb is rebuilt to name the new file. With
    ``postgres_url`` the day is then also loaded into ``postgres_schema`` of that
    PostgreSQL database in one transaction; if that fails the error is raised (the
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
        fsync_dir(version)
        fsync_dir(version.parent)
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

    if postgres_url:
        load_day(postgres_url, table, day, data, schema=postgres_schema)

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
    data_file = current_files(data_dir, table).get(as_date(as_of_date))
    return pq.ParquetFile(data_file).metadata.num_rows if data_file is not None else 0


def unpublish_day(
    data_dir: Path,
    table: str,
    as_of_date: date | str,
    *,
    postgres_url: str | None = None,
    postgres_schema: str = DEFAULT_SCHEMA,
) -> bool:
    """Stop serving one day of ``table`` (retention); never the table's latest day.

    With ``postgres_url`` the day is deleted from PostgreSQL first: should that fail,
    the Parquet day is still there and the next retention tries both again (the other
    order left days in PostgreSQL for ever). Then the day's link is removed in one
    unlink (listers see the day or not at all) and its version is marked superseded,
    so readers bound to it keep working for the grace period. Call
    ``ensure_serving`` afterwards. Returns False if not published.
    """
    data_dir = Path(data_dir)
    day = as_date(as_of_date)
    link = day_link(data_dir, table, day)
    version = link_target(link)
    if version is None:
        return False
    if link_target(latest_link(data_dir, table)) == version:
        raise ValueError(f"table {table!r}: {day} is the latest published day; it cannot be unpublished")
    if postgres_url:
        delete_day(postgres_url, table, day, schema=postgres_schema)
    link.unlink()
    fsync_dir(link.parent)
    if version.is_dir():
        (version / SUPERSEDED_MARKER).write_text(datetime.now().astimezone().isoformat())
    log.info("unpublished %s as_of_date=%s", table, day)
    return True


def published_state(data_dir: Path) -> dict[str, str]:
    """What readers can reach, as {path: sha256 or link target}: every file and link
    under published/ (links followed, their targets recorded) and serving.duckdb.

    Equal before and after a run = the run changed nothing a reader sees (tests of
    failed gates use it; so can an operator auditing a re-run).
    """
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
                    target = link_target(Path(entry.path))
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
