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
from collections.abc import Mapping
from contextlib import nullcontext
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
from restock.publish.postgres import DEFAULT_SCHEMA, day_transaction, delete_day
from restock.publish.serving import ensure_serving, served_files

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


@dataclass(frozen=True)
class _Staged:
    """A day's new version of one table, written and fsynced but not yet linked."""

    table: str
    day: date
    version: Path
    data_file: Path
    data: pa.Table


@dataclass(frozen=True)
class _Swap:
    """What a staged version replaced, to undo the swap or to supersede the old one."""

    staged: _Staged
    previous: Path | None  # the day's previous version (None: a new day)
    previous_latest: Path | None
    latest: bool


def _stage(
    data_dir: Path, table: str, as_of_date: date | str | None, frame: Any, key_columns: list[str] | None
) -> _Staged:
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
    return _Staged(table, day, version, data_file, data)


def _swap_in(data_dir: Path, staged: _Staged) -> _Swap:
    previous_latest = link_target(latest_link(data_dir, staged.table))
    previous = _swap_link(day_link(data_dir, staged.table, staged.day), staged.version)
    days = published_days(data_dir, staged.table)
    is_latest = bool(days) and staged.day >= days[-1]
    if is_latest:  # the previous latest is either ``previous`` (same day) or still a current day
        _swap_link(latest_link(data_dir, staged.table), staged.version)
    return _Swap(staged, previous, previous_latest, is_latest)


def _swap_back(data_dir: Path, swap: _Swap) -> None:
    """Undo ``_swap_in``: the day and _latest links point where they pointed before."""
    table, day = swap.staged.table, swap.staged.day
    link = day_link(data_dir, table, day)
    if swap.previous is not None:
        _swap_link(link, swap.previous)
    else:
        link.unlink(missing_ok=True)
        fsync_dir(link.parent)
    if swap.latest:
        latest = latest_link(data_dir, table)
        if swap.previous_latest is not None:
            _swap_link(latest, swap.previous_latest)
        else:
            latest.unlink(missing_ok=True)
            fsync_dir(latest.parent)


def publish_tables(
    data_dir: Path,
    as_of_date: date,
    frames: Mapping[str, Any],
    *,
    descriptions: Mapping[str, str] | None = None,
    key_columns: Mapping[str, list[str]] | None = None,
    postgres_url: str | None = None,
    postgres_schema: str = DEFAULT_SCHEMA,
) -> dict[str, PublishResult]:
    """Publish one day of several tables as one unit: all of them or none.

    1. every table's new version is written and fsynced (nothing visible yet);
    2. with ``postgres_url``, one PostgreSQL transaction replaces the day of every
       table (``postgres.day_transaction``) and stays open;
    3. the day and _latest links of every table are swapped and serving.duckdb is
       rebuilt once; 4. the transaction commits.
    A failure at any step (a PostgreSQL server gone mid-load, a failed commit, a full
    disk) swaps the links back, rebuilds serving.duckdb as it was, rolls PostgreSQL
    back and deletes the new versions: readers of Parquet, serving.duckdb and
    PostgreSQL keep the previous complete day. Only a process killed between the
    swaps and the commit leaves Parquet newer than PostgreSQL; the failed run's retry
    republishes the day. Readers of serving.duckdb see all tables change at once;
    glob readers of the day links may see the tables change one after another.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    key_columns = key_columns or {}
    served = {t: (descriptions or {}).get(t) for t in frames}
    staged: list[_Staged] = []
    swaps: list[_Swap] = []
    try:
        for table, frame in frames.items():
            staged.append(_stage(data_dir, table, as_of_date, frame, key_columns.get(table)))
        pg = (
            day_transaction(postgres_url, as_of_date, {s.table: s.data for s in staged}, schema=postgres_schema)
            if postgres_url
            else nullcontext()
        )
        with pg:
            for s in staged:
                swaps.append(_swap_in(data_dir, s))
            ensure_serving(data_dir, served)
    except BaseException:
        for swap in reversed(swaps):
            _swap_back(data_dir, swap)
        try:
            if swaps:
                ensure_serving(data_dir)
        except Exception:
            # serving.duckdb may still name the new files: keep them (cleanup_versions
            # spares what it names; the next run rebuilds it).
            log.exception("rebuilding %s after a failed publish failed", data_dir / SERVING_FILE)
        else:
            for s in staged:
                shutil.rmtree(s.version, ignore_errors=True)
        log.error("publishing %s as_of_date=%s failed: nothing of the day was published", ", ".join(frames), as_of_date)
        raise
    seconds = time.perf_counter() - started
    results = {}
    for swap in swaps:
        _mark_superseded(swap.previous, swap.staged.version)
        s = swap.staged
        results[s.table] = PublishResult(
            table=s.table,
            as_of_date=s.day,
            rows=len(s.data),
            path=s.data_file,
            seconds=seconds,
            replaced=swap.previous is not None,
            latest=swap.latest,
        )
        log.info(
            "published %s as_of_date=%s: %d rows (%s%s)",
            s.table,
            s.day,
            len(s.data),
            "replaced" if swap.previous is not None else "new day",
            ", latest" if swap.latest else "",
        )
    return results


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
    ``postgres_url`` the day is loaded into PostgreSQL in the same unit
    (``publish_tables``). ``refresh_serving=False`` skips rebuilding serving.duckdb
    only when there is no PostgreSQL target (a caller publishing many single tables
    rebuilds it once at the end).
    """
    if refresh_serving or postgres_url:
        data, day = prepare_frame(table, frame, as_of_date, key_columns)
        descriptions = {table: description} if description is not None else None
        return publish_tables(
            data_dir,
            day,
            {table: data},
            descriptions=descriptions,
            postgres_url=postgres_url,
            postgres_schema=postgres_schema,
        )[table]
    started = time.perf_counter()
    data_dir = Path(data_dir)
    staged = _stage(data_dir, table, as_of_date, frame, key_columns)
    swap = _swap_in(data_dir, staged)
    _mark_superseded(swap.previous, staged.version)
    return PublishResult(
        table=table,
        as_of_date=staged.day,
        rows=len(staged.data),
        path=staged.data_file,
        seconds=time.perf_counter() - started,
        replaced=swap.previous is not None,
        latest=swap.latest,
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
    (the target of a day or _latest link) or one whose file serving.duckdb still names
    (its rebuild was interrupted) is never deleted. Readers that bound a
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
                        current.add(target.absolute())
    current |= {f.parent.absolute() for f in served_files(data_dir) or ()}
    cutoff = time.time() - grace.total_seconds()
    removed: list[Path] = []
    for table in os.listdir(root):
        for day in os.scandir(root / table):
            for version in os.scandir(day.path):
                path = Path(version.path)
                if path.absolute() in current:
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
