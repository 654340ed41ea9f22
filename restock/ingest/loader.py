"""Load one extract for one day into the warehouse's raw layer, idempotently.

A day's rows are replaced as a whole inside one transaction, so a re-run or a
re-delivered file never counts a row twice and a failed load leaves the previous
rows in place.

The landing folder is the source of truth: a file loaded for a day and no longer in
the folder when the day is run again is *withdrawn* (``withdraw_day``): its rows and
its load record are deleted, so the day is as if the file had never arrived (a
snapshot extract's earlier snapshot is in force again; a daily extract's day fails
with ``MissingDeliveryError`` like a day never delivered).

``load_day`` / ``load_days`` load without validation (tools and tests); the pipeline
loads through the validation gate, ``restock.ingest.gated``, which reuses
``write_day`` and ``no_delivery`` from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from restock.contract import EXTRACTS, PARTITION_COLUMN, day_of_file
from restock.ingest.landing import ExtractFile, LandingError, expected_paths, find_file, read_extract_file
from restock.ingest.raw_tables import QUARANTINE_TABLE, RAW_SCHEMA, create_raw_tables

log = logging.getLogger(__name__)


class MissingDeliveryError(LandingError):
    """A required file for a day has not landed."""


@dataclass(frozen=True)
class LoadResult:
    extract: str
    day: date
    status: str  # "loaded" | "no_delivery" (snapshot extracts: the latest earlier one stands)
    source_file: str | None
    checksum_sha256: str | None
    row_count: int
    encoding: str | None = None
    snapshot_in_force: date | None = None


def load_day(
    con, landing_dir: Path, extract_name: str, day: date, mapping: dict[str, str], encodings: list[str]
) -> LoadResult:
    """Load ``landing_dir/<extract>/<day>.*`` into ``raw.<extract>`` (replacing that day)."""
    create_raw_tables(con)
    return _load_day(con, landing_dir, extract_name, day, mapping, encodings)


def load_days(
    con, landing_dir: Path, extract_name: str, days: Iterable[date], mapping: dict[str, str], encodings: list[str]
) -> Iterator[LoadResult]:
    """``load_day`` for each day in order (a backfill range); tables are checked once."""
    create_raw_tables(con)
    for day in days:
        yield _load_day(con, landing_dir, extract_name, day, mapping, encodings)


def _load_day(
    con, landing_dir: Path, extract_name: str, day: date, mapping: dict[str, str], encodings: list[str]
) -> LoadResult:
    extract = EXTRACTS[extract_name]
    path = find_file(landing_dir, extract_name, day)
    if path is None:
        return no_delivery(con, landing_dir, extract_name, day, mapping, encodings)
    delivered = read_extract_file(path, extract, mapping, encodings)
    return write_day(con, extract_name, day, delivered)


def write_day(
    con,
    extract_name: str,
    day: date,
    delivered: ExtractFile,
    *,
    release_quarantine: bool = False,
    transaction: bool = True,
) -> LoadResult:
    """Replace ``day`` in ``raw.<extract>`` with the file's rows and record the load, in
    one transaction (a failure keeps the previous rows). ``release_quarantine``: also
    mark a quarantined delivery of that extract and day as released (the gated path).
    ``transaction=False``: the caller holds a transaction around this (the gated path
    writes a whole window in one)."""
    accepted = Accepted(day, delivered, release_quarantine)
    return write_days(con, extract_name, [accepted], transaction=transaction)[0]


@dataclass(frozen=True)
class Accepted:
    """A file accepted for ``day``, to be written (``write_days``)."""

    day: date
    file: ExtractFile
    release_quarantine: bool = False
    loaded_at: datetime | None = None  # when it was accepted (default: when written)


def write_days(con, extract_name: str, accepted: list[Accepted], *, transaction: bool = True) -> list[LoadResult]:
    """``write_day`` for several days at once: the same rows and load records, in a
    handful of statements instead of a handful per day."""
    if not accepted:
        return []
    if len({a.day for a in accepted}) != len(accepted):  # the same day twice: the last one wins
        return [r for a in accepted for r in write_days(con, extract_name, [a], transaction=transaction)]
    import pyarrow as pa

    extract = EXTRACTS[extract_name]
    now = datetime.now(UTC).replace(tzinfo=None)
    stamps = [a.loaded_at or now for a in accepted]
    parts = []
    for a, loaded_at in zip(accepted, stamps, strict=True):
        n = a.file.table.num_rows
        parts.append(
            a.file.table.append_column(PARTITION_COLUMN, pa.array([a.day] * n, pa.date32()))
            .append_column("_source_file", pa.array([str(a.file.path)] * n, pa.string()))
            .append_column("_loaded_at", pa.array([loaded_at] * n, pa.timestamp("us")))
        )
    incoming = pa.concat_tables(parts, promote_options="permissive")
    days = [a.day for a in accepted]
    columns = ", ".join(
        f'"{c}"' for c in (*extract.columns, PARTITION_COLUMN, "_source_file", "_source_row", "_loaded_at")
    )
    with _transaction(con, transaction):
        con.execute(
            f'DELETE FROM {RAW_SCHEMA}."{extract_name}" WHERE list_contains(?::DATE[], {PARTITION_COLUMN})', [days]
        )
        con.register("incoming_extract", incoming)
        try:
            con.execute(f'INSERT INTO {RAW_SCHEMA}."{extract_name}" ({columns}) SELECT {columns} FROM incoming_extract')
        finally:
            con.unregister("incoming_extract")
        record_loads(
            con,
            extract_name,
            days,
            "loaded",
            [str(a.file.path) for a in accepted],
            [a.file.checksum_sha256 for a in accepted],
            [a.file.table.num_rows for a in accepted],
            stamps,
        )
        for a, loaded_at in zip(accepted, stamps, strict=True):
            if a.release_quarantine:
                release_quarantined(con, extract_name, a.day, loaded_at, f"released: {a.file.path} accepted")
    results = []
    for a in accepted:
        log.info("raw.%s %s: %d rows from %s", extract_name, a.day, a.file.table.num_rows, a.file.path)
        results.append(
            LoadResult(
                extract_name,
                a.day,
                "loaded",
                str(a.file.path),
                a.file.checksum_sha256,
                a.file.table.num_rows,
                a.file.encoding,
                a.day,
            )
        )
    return results


def release_quarantined(con, extract_name: str, day: date, at: datetime, note: str | None = None) -> int:
    """Set ``released_at`` (and ``release_note``: why) on the open quarantine records of
    this extract and day."""
    released = con.execute(
        f"UPDATE {QUARANTINE_TABLE} SET released_at = ?, release_note = ? "
        "WHERE extract = ? AND partition_date = ? AND released_at IS NULL RETURNING 1",
        [at, note, extract_name, day],
    ).fetchall()
    return len(released)


@dataclass(frozen=True)
class Withdrawal:
    """The rows of a day whose file left the landing folder, deleted by ``withdraw_day``."""

    extract: str
    day: date
    source_file: str | None  # the file they were loaded from
    checksum_sha256: str | None
    row_count: int
    copy: Path | None  # where they were kept (Parquet), None when not asked to keep them

    def describe(self) -> str:
        kept = f"; they are kept in {self.copy}" if self.copy else ""
        return (
            f"{self.extract} for {self.day}: {self.source_file or 'the file loaded earlier'} is no longer in the "
            f"landing folder: its {self.row_count} row(s) were withdrawn, as if it had never arrived{kept}"
        )


def withdraw_day(
    con, extract_name: str, day: date, keep_dir: Path | None = None, *, transaction: bool = True
) -> Withdrawal | None:
    """Delete ``day``'s rows of ``raw.<extract>`` and its load record, in one transaction
    (for a day whose file is no longer in the landing folder; the caller has checked;
    ``transaction=False``: the caller holds one).
    ``keep_dir``: first copy the rows, lineage columns included, to
    ``<keep_dir>/<extract>/<day>/<sha256[:12]>-<file name>.rows.parquet`` (the copy can
    be put back into the landing folder as ``<day>.parquet``: extra columns are
    ignored). None when the day had nothing loaded."""
    # fetchall: a partly fetched result would stop the relation query below (DuckDB 2).
    loaded = con.execute(
        f"SELECT source_file, checksum_sha256 FROM {RAW_SCHEMA}._loads "
        "WHERE extract = ? AND partition_date = ? AND status = 'loaded'",
        [extract_name, day],
    ).fetchall()
    ((count,),) = con.execute(
        f'SELECT count(*) FROM {RAW_SCHEMA}."{extract_name}" WHERE {PARTITION_COLUMN} = ?', [day]
    ).fetchall()
    if not loaded and count == 0:
        return None
    source, checksum = loaded[0] if loaded else (None, None)
    copy = None
    if keep_dir is not None and count:
        import pyarrow.parquet as pq

        rows = con.sql(
            f'SELECT * FROM {RAW_SCHEMA}."{extract_name}" WHERE {PARTITION_COLUMN} = ? ORDER BY _source_row',
            params=[day],
        ).to_arrow_table()
        name = Path(source).name if source else "rows"
        copy = Path(keep_dir) / extract_name / day.isoformat() / f"{(checksum or 'unknown')[:12]}-{name}.rows.parquet"
        copy.parent.mkdir(parents=True, exist_ok=True)
        partial = copy.with_name(f".{copy.name}.partial")
        pq.write_table(rows, partial)
        os.replace(partial, copy)
    with _transaction(con, transaction):
        con.execute(f'DELETE FROM {RAW_SCHEMA}."{extract_name}" WHERE {PARTITION_COLUMN} = ?', [day])
        con.execute(f"DELETE FROM {RAW_SCHEMA}._loads WHERE extract = ? AND partition_date = ?", [extract_name, day])
    withdrawal = Withdrawal(extract_name, day, source, checksum, count, copy)
    log.warning("%s", withdrawal.describe())
    return withdrawal


def no_delivery(
    con,
    landing_dir: Path,
    extract_name: str,
    day: date,
    mapping: dict[str, str],
    encodings: list[str],
    load_earlier: Callable[[date], bool] | None = None,
    keep_withdrawn: Path | None = None,
    on_withdraw: Callable[[Withdrawal], None] | None = None,
    *,
    transaction: bool = True,
) -> LoadResult:
    """A day without a file: a daily extract fails (naming the expected paths); a
    snapshot extract uses the latest earlier snapshot (loading it when the warehouse has
    none yet, through ``load_earlier(day) -> accepted?`` when given).

    Rows loaded earlier for the day come from a file that has left the landing folder:
    they are withdrawn first (``withdraw_day``, copy under ``keep_withdrawn``;
    ``on_withdraw`` is told), so the day is as if that file had never arrived.
    ``transaction=False``: the caller holds a transaction around this."""
    extract = EXTRACTS[extract_name]
    wanted = " or ".join(str(p) for p in expected_paths(landing_dir, extract_name, day))
    withdrawn = withdraw_day(con, extract_name, day, keep_withdrawn, transaction=transaction)
    if withdrawn is not None and on_withdraw is not None:
        on_withdraw(withdrawn)
    if extract.delivery == "daily":
        why = f" ({withdrawn.describe()})" if withdrawn is not None else ""
        raise MissingDeliveryError(f"{extract_name} for {day}: no file landed; expected {wanted}{why}")
    in_force = con.execute(
        f"SELECT max(partition_date) FROM {RAW_SCHEMA}._loads "
        "WHERE extract = ? AND partition_date < ? AND status = 'loaded'",
        [extract_name, day],
    ).fetchone()[0]
    rejected = None
    if in_force is None:
        earlier = _latest_earlier_file_day(landing_dir, extract_name, day)
        if earlier is not None:
            # A range backfilled into an empty warehouse: the snapshot in force was
            # delivered before the range; load it under its own day (still <= day).
            log.info("%s for %s: loading the snapshot in force, delivered %s", extract_name, day, earlier)
            if load_earlier is None:
                load_day(con, landing_dir, extract_name, earlier, mapping, encodings)
                in_force = earlier
            elif load_earlier(earlier):
                in_force = earlier
            else:
                rejected = earlier
    if in_force is None and not extract.optional_extract:
        why = (
            f" The snapshot delivered {rejected} was rejected by its validation gate (quarantined)." if rejected else ""
        )
        raise MissingDeliveryError(
            f"{extract_name} for {day}: no snapshot on or before this day in the warehouse; the first "
            f"partition needs one. Expected {wanted}, or backfill from the day of an earlier snapshot "
            f"in {landing_dir / extract_name}.{why}"
        )
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    with _transaction(con, transaction):
        _record_load(con, extract_name, day, "no_delivery", None, None, 0, loaded_at)
    return LoadResult(extract_name, day, "no_delivery", None, None, 0, None, in_force)


def _latest_earlier_file_day(landing_dir: Path, extract_name: str, day: date) -> date | None:
    folder = landing_dir / extract_name
    if not folder.is_dir():
        return None
    days = [d for d in (day_of_file(p.name) for p in folder.iterdir()) if d is not None and d < day]
    return max(days, default=None)


def _record_load(con, extract_name, day, status, source_file, checksum, row_count, loaded_at) -> None:
    """Replace the day's load record (call inside a transaction)."""
    record_loads(con, extract_name, [day], status, [source_file], [checksum], [row_count], [loaded_at])


def record_loads(con, extract_name, days, status, source_files, checksums, row_counts, loaded_ats) -> None:
    """Replace the load records of ``days`` (call inside a transaction): DELETE + INSERT,
    as INSERT OR REPLACE on the key does, at a fraction of its cost in DuckDB."""
    con.execute(
        f"DELETE FROM {RAW_SCHEMA}._loads WHERE extract = ? AND list_contains(?::DATE[], partition_date)",
        [extract_name, days],
    )
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}._loads SELECT ?, unnest(?::DATE[]), ?, unnest(?::VARCHAR[]), "
        "unnest(?::VARCHAR[]), unnest(?::INTEGER[]), unnest(?::TIMESTAMP[])",
        [extract_name, days, status, source_files, checksums, row_counts, loaded_ats],
    )


@contextmanager
def _transaction(con, own: bool) -> Iterator[None]:
    """One transaction around the block (``own``), or none: the caller holds one."""
    if not own:
        yield
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
