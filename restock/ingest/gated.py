"""Load raw extracts through their validation gate; quarantine what the gate rejects.

For one extract and the days of a partition window, in day order:

1. find the day's landing file. No file: a daily extract fails with
   ``MissingDeliveryError`` naming the expected paths (as ``loader.load_day``); a
   snapshot extract keeps the latest earlier snapshot in force. A file loaded for the
   day by an earlier run and no longer in the landing folder is *withdrawn*: its rows
   are copied to ``<data_dir>/withdrawn/`` and deleted, as if it had never arrived
   (``loader.withdraw_day``); an open quarantine of the day is released with a note;
2. read it (``landing.read_extract_file``). A file that cannot be read at all (0 bytes,
   truncated gzip, corrupt Parquet, undecodable text, unparsable CSV, missing required
   column) is rejected with the reader's message;
3. validate it with the suite ``expectations/raw_<extract>.json``
   (``restock.quality.validate_days``): ``partition_date`` = the day; ``known_*`` = the
   ids of the customers / products snapshot *in force* that day (the accepted rows of
   ``raw.customers`` / ``raw.products`` with the latest ``_partition_date`` on or before
   it); ``today`` = the run's date; orders' quantity outliers against a baseline of the
   accepted orders of the ``baseline_weeks`` before the first day validated, per
   customer (or its tier's, for customers with few lines). Days are validated
   together, ``DAYS_PER_VALIDATION`` delivered files at a time (31 days of a daily
   extract, 31 snapshots of a snapshot extract; the extracts without a baseline then
   take about ``ROWS_PER_VALIDATION`` rows a run), with a verdict per day (GE's fixed
   cost per run would otherwise dominate a backfill);
3b. a day its suite accepts is then checked for plausibility against the previous
   accepted snapshot (``restock.ingest.plausibility``: coverage of ids, warehouses and
   rows, the stock identity); a failure there joins the day's failing expectations;
4. accepted: the day's rows in ``raw.<extract>`` are replaced (``loader.write_days``),
   which also releases any open quarantine record of that extract and day. Rejected:
   ``raw.<extract>`` is not touched (the previous accepted rows of that day stay, so
   dbt never reads a rejected file); the delivered file is copied byte for byte to
   ``<data_dir>/quarantine/<extract>/<day>/<sha256[:12]>-<name>`` and recorded in
   ``raw._quarantine`` with the gate's message and failing expectations; the other
   days go on.

The writes of the days validated together are one transaction (``_Gate._transaction``:
a commit per day cost more than the day's rows): an error rolls them back whole, a
missing daily file (``MissingDeliveryError``) or a caller that stops early keeps the
days before. Accepted days are written together, just before anything reads the raw
table (plausibility of the next snapshot, a day without a file) and at the end; the
file accepted last is handed to the next day's plausibility checks instead of being
read back; a snapshot extract's day without a file is answered from the load records
kept in memory. Tests: tests/ingest/test_gated_windows.py (the same verdicts, rows
and records as one day at a time).

Pure code: no Dagster import. ``great_expectations`` is imported on the first validation.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restock.config import QualityConfig
from restock.contract import EXTRACTS, PARTITION_COLUMN
from restock.ingest.gated_load import GatedLoad
from restock.ingest.landing import ExtractFile, LandingError, expected_paths, find_file, read_extract_file
from restock.ingest.loader import (
    Accepted,
    LoadResult,
    Withdrawal,
    no_delivery,
    record_loads,
    release_quarantined,
    write_days,
)
from restock.ingest.plausibility import AcceptedFile, Plausibility, check_delivery
from restock.ingest.raw_tables import QUARANTINE_TABLE, RAW_SCHEMA, create_raw_tables

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from restock.quality import GateResult

log = logging.getLogger(__name__)

# Delivered files of one extract validated in one GE run (memory bound; for orders, a
# daily extract, also the age bound of the outlier warning's baseline): 31 days of a
# daily extract, 31 snapshots of a snapshot extract.
DAYS_PER_VALIDATION = 31
# Extracts checked against a baseline of the accepted rows before a run's first day
# (orders' outlier warning): their runs stay DAYS_PER_VALIDATION files, so the baseline
# is never older than that. The others grow their runs to about ROWS_PER_VALIDATION rows
# (GE's fixed cost per run, ~0.15-0.3 s, is then paid a few times a backfill, not 24).
BASELINE_EXTRACTS = frozenset({"orders"})
ROWS_PER_VALIDATION = 250_000
MAX_FILES_PER_VALIDATION = 366
QUARANTINE_DIR = "quarantine"
WITHDRAWN_DIR = "withdrawn"  # rows of withdrawn deliveries (and files moved by restock.ingest.withdraw)
DATA_DOCS_DIR = Path("quality") / "docs"
DEFAULT_ENCODINGS = ("utf-8-sig", "gb18030")


# --------------------------------------------------------------------------- API


def load_gated_day(
    con,
    landing_dir: Path,
    data_dir: Path,
    extract_name: str,
    day: date,
    *,
    mapping: dict[str, str] | None = None,
    encodings: Iterable[str] = DEFAULT_ENCODINGS,
    rules: QualityConfig | None = None,
    today: date | None = None,
    data_docs: bool = True,
) -> GatedLoad:
    """Gate and load one extract for one day (see the module docstring)."""
    results = list(
        load_gated_days(
            con,
            landing_dir,
            data_dir,
            extract_name,
            [day],
            mapping=mapping,
            encodings=encodings,
            rules=rules,
            today=today,
            data_docs=data_docs,
        )
    )
    return next(r for r in reversed(results) if r.day == day)


def load_gated_days(
    con,
    landing_dir: Path,
    data_dir: Path,
    extract_name: str,
    days: Iterable[date],
    *,
    mapping: dict[str, str] | None = None,
    encodings: Iterable[str] = DEFAULT_ENCODINGS,
    rules: QualityConfig | None = None,
    today: date | None = None,
    data_docs: bool = True,
    days_per_validation: int = DAYS_PER_VALIDATION,
    rows_per_validation: int | None = ROWS_PER_VALIDATION,
) -> Iterator[GatedLoad]:
    """Gate and load each day in order, yielding one ``GatedLoad`` per day (plus one for
    an earlier snapshot loaded on the way, see ``loader.no_delivery``).

    ``data_docs``: write Data Docs under ``<data_dir>/quality/docs``; for a window of
    several days only the rejected days get a page (a single day always does).
    ``days_per_validation``: delivered files per GE run; ``rows_per_validation``: an
    extract without a baseline taken before its run (all but orders) then takes as
    many files a run as hold about that many rows, by the files seen so far (at least
    ``days_per_validation``, at most ``MAX_FILES_PER_VALIDATION``; None: no growth).
    Raises ``MissingDeliveryError`` at a daily extract's first day without a file,
    after loading the days before it; ``LandingError`` when one day has two files.
    """
    create_raw_tables(con)
    gate = _Gate(
        con,
        Path(landing_dir),
        Path(data_dir),
        extract_name,
        dict(mapping or {}),
        list(encodings),
        rules or QualityConfig(),
        today or date.today(),
        data_docs,
    )
    pending, files_per_run = list(days), max(1, days_per_validation)
    rows = files = 0
    while pending:
        chunk = next(_chunks(Path(landing_dir), extract_name, pending, files_per_run))
        pending = pending[len(chunk) :]
        for result in gate.run(chunk):
            if result.source_file and result.status != "no_delivery":
                rows, files = rows + result.row_count, files + 1
            yield result
        if rows_per_validation and extract_name not in BASELINE_EXTRACTS and files:
            files_per_run = min(
                MAX_FILES_PER_VALIDATION, max(files_per_run, rows_per_validation * files // max(rows, 1))
            )


def _chunks(landing_dir: Path, extract_name: str, days: list[date], files_per_chunk: int) -> Iterator[list[date]]:
    """The days in order, cut into runs of consecutive days holding at most
    ``files_per_chunk`` delivered files each: a daily extract ``files_per_chunk`` days
    at a time, a snapshot extract (a file every few days or weeks) that many *files*
    at a time instead of a GE run for one or two files."""
    chunk: list[date] = []
    files = 0
    for day in days:
        delivered = any(p.exists() or p.is_symlink() for p in expected_paths(landing_dir, extract_name, day))
        if delivered and files == files_per_chunk:
            yield chunk
            chunk, files = [], 0
        chunk.append(day)
        files += delivered
    if chunk:
        yield chunk


def quarantine_dir(data_dir: Path) -> Path:
    return Path(data_dir) / QUARANTINE_DIR


def withdrawn_dir(data_dir: Path) -> Path:
    return Path(data_dir) / WITHDRAWN_DIR


def data_docs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / DATA_DOCS_DIR


def open_quarantines(con, extract_name: str | None = None) -> list[dict[str, Any]]:
    """Quarantine records not released yet (newest first)."""
    where, args = ("AND extract = ?", [extract_name]) if extract_name else ("", [])
    cur = con.execute(
        f"SELECT extract, partition_date, source_file, checksum_sha256, quarantine_file, quarantined_at, reason "
        f"FROM {QUARANTINE_TABLE} WHERE released_at IS NULL {where} ORDER BY quarantined_at DESC",
        args,
    )
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# ---------------------------------------------------------------------- the gate


class _Gate:
    def __init__(
        self,
        con,
        landing_dir: Path,
        data_dir: Path,
        extract_name: str,
        mapping: dict[str, str],
        encodings: list[str],
        rules: QualityConfig,
        today: date,
        data_docs: bool,
    ) -> None:
        self.con, self.landing_dir, self.data_dir = con, landing_dir, data_dir
        self.extract_name, self.extract = extract_name, EXTRACTS[extract_name]
        self.mapping, self.encodings, self.rules, self.today = mapping, encodings, rules, today
        self.data_docs = data_docs
        self._in_force_ids: dict[tuple[str, date], frozenset[str]] = {}
        self._snapshot_days: dict[str, list[date]] = {}  # master -> its accepted days (one _validate)
        self._rejected_earlier: set[date] = set()
        self._in_transaction = False
        # The last file accepted, and the last day through which raw.<extract> holds it as
        # the latest snapshot (the days after it, up to that one, had nothing loaded).
        self._kept: AcceptedFile | None = None
        self._kept_through: date | None = None
        self._last_loaded: tuple[date, str | None, str | None] | None = None  # day, checksum, file
        self._pending_writes: list[Accepted] = []  # accepted files not written yet (``_write``)
        self._loads: dict[date, str] | None = None  # raw._loads of this extract: day -> status (see below)
        self._row_days: set[date] = set()  # days with rows in raw.<extract>
        self._pending_no_delivery: list[tuple[date, datetime]] = []  # load records not written yet
        # Open quarantine records of this extract per day; this gate is their only
        # writer while it runs (it inserts and releases them), so it keeps the count.
        self._open: dict[date, int] = dict(
            con.execute(
                f"SELECT partition_date, count(*) FROM {QUARANTINE_TABLE} "
                "WHERE extract = ? AND released_at IS NULL GROUP BY partition_date",
                [extract_name],
            ).fetchall()
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The writes of a window in one transaction (a commit per day costs more than
        the day's rows). Committed at the end, and when the caller stops early or a day
        raises ``LandingError`` (a missing daily file: the days before it stay loaded);
        rolled back on any other error, so no day is ever half written. Nested runs
        (a snapshot loaded on the way) join the open transaction."""
        if self._in_transaction:
            yield
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except (LandingError, GeneratorExit):
            self._end("COMMIT")
            raise
        except BaseException:
            self._end("ROLLBACK")
            raise
        self._end("COMMIT")

    def _end(self, statement: str) -> None:
        self._in_transaction = False
        if statement == "COMMIT":
            try:  # what is held back is part of the window
                self._write()
                self._record_no_deliveries()
            except BaseException:
                self._end("ROLLBACK")
                raise
        self.con.execute(statement)
        if statement == "ROLLBACK":  # what is kept above may include rolled back changes
            self._pending_no_delivery.clear()
            self._pending_writes.clear()
            self._loads, self._row_days, self._last_loaded = None, set(), None
            self._kept = self._kept_through = None
            self._open = dict(
                self.con.execute(
                    f"SELECT partition_date, count(*) FROM {QUARANTINE_TABLE} "
                    "WHERE extract = ? AND released_at IS NULL GROUP BY partition_date",
                    [self.extract_name],
                ).fetchall()
            )

    # -- one chunk of days
    def run(self, days: list[date], ids_as_of: date | None = None) -> Iterator[GatedLoad]:
        plan: list[tuple[date, str, Any]] = []  # (day, "file" | "unreadable" | "none", payload)
        stop: LandingError | None = None
        for day in days:
            try:
                path = find_file(self.landing_dir, self.extract_name, day)
            except LandingError as exc:  # two files for one day: which one is meant?
                stop = exc
                break
            if path is None:
                plan.append((day, "none", None))
                if self.extract.delivery == "daily":
                    break  # no_delivery raises MissingDeliveryError once the days before are loaded
                continue
            try:
                plan.append((day, "file", read_extract_file(path, self.extract, self.mapping, self.encodings)))
            except LandingError as exc:
                plan.append((day, "unreadable", (path, self._explain(path, exc))))
        delivered = {day: payload for day, kind, payload in plan if kind == "file"}
        verdicts = self._validate(delivered, ids_as_of) if delivered else {}
        with self._transaction():
            for day, kind, payload in plan:
                if kind == "none":
                    yield from self._no_delivery(day)
                elif kind == "unreadable":
                    path, reason = payload
                    yield self._quarantine(day, path, reason, None)
                else:
                    yield self._apply(day, payload, verdicts[day])
            if stop is not None:
                raise stop

    # -- validation
    def _validate(self, delivered: dict[date, ExtractFile], ids_as_of: date | None) -> dict[date, GateResult]:
        import pandas as pd

        from restock.quality import validate_days

        self._snapshot_days.clear()  # the masters as they stand now
        frames = {}
        for day, file in delivered.items():
            frame = file.table.to_pandas()
            frame["_source_file"] = str(file.path)
            frame[PARTITION_COLUMN] = pd.Timestamp(day)
            frames[day] = frame
        days = sorted(frames)
        params: dict[str, Any] = {"today": self.today, **_suite_parameters(self.rules, self.extract_name)}
        baseline = None
        if self.extract_name in ("orders", "inventory", "promotions"):
            params["known_skus"] = {d: self._ids_in_force("products", "sku", ids_as_of or d) for d in days}
        if self.extract_name == "orders":
            params["known_customer_ids"] = {
                d: self._ids_in_force("customers", "customer_id", ids_as_of or d) for d in days
            }
            baseline = self._quantity_baseline(days[0])
        docs = data_docs_dir(self.data_dir) if self.data_docs else None
        return validate_days(f"raw_{self.extract_name}", frames, params, data_docs_dir=docs, quantity_baseline=baseline)

    def _ids_in_force(self, extract_name: str, column: str, day: date) -> frozenset[str]:
        """Ids of the accepted snapshot in force on ``day`` (empty when there is none)."""
        if extract_name not in self._snapshot_days:  # once per validation, not per day
            self._snapshot_days[extract_name] = [
                d
                for (d,) in self.con.execute(
                    f'SELECT DISTINCT {PARTITION_COLUMN} FROM {RAW_SCHEMA}."{extract_name}" '
                    f"WHERE {PARTITION_COLUMN} IS NOT NULL ORDER BY 1"
                ).fetchall()
            ]
        days = self._snapshot_days[extract_name]
        at = bisect.bisect_right(days, day)
        if at == 0:
            return frozenset()
        snapshot = days[at - 1]
        key = (extract_name, snapshot)
        if key not in self._in_force_ids:
            rows = self.con.execute(
                f'SELECT DISTINCT "{column}" FROM {RAW_SCHEMA}."{extract_name}" '
                f'WHERE {PARTITION_COLUMN} = ? AND "{column}" IS NOT NULL',
                [snapshot],
            ).fetchall()
            self._in_force_ids[key] = frozenset(r[0] for r in rows)
        return self._in_force_ids[key]

    def _quantity_baseline(self, first_day: date) -> pd.DataFrame | None:
        from restock.ingest.order_baseline import quantity_baseline

        since = first_day - timedelta(weeks=self.rules.baseline_weeks)
        history = self.con.execute(
            f"SELECT customer_id, quantity, status FROM {RAW_SCHEMA}.orders "
            f"WHERE {PARTITION_COLUMN} >= ? AND {PARTITION_COLUMN} < ?",
            [since, first_day],
        ).df()
        if history.empty:
            return None
        snapshot = self.con.execute(
            f"SELECT max({PARTITION_COLUMN}) FROM {RAW_SCHEMA}.customers WHERE {PARTITION_COLUMN} <= ?", [first_day]
        ).fetchone()[0]
        customers = None
        if snapshot is not None:
            customers = self.con.execute(
                f"SELECT customer_id, tier FROM {RAW_SCHEMA}.customers WHERE {PARTITION_COLUMN} = ?", [snapshot]
            ).df()
        return quantity_baseline(history, customers)

    # -- outcomes
    def _apply(self, day: date, file: ExtractFile, verdict: GateResult) -> GatedLoad:
        if not verdict.source_files:  # a file without rows: the message still names it
            verdict = dataclasses.replace(verdict, source_files=(str(file.path),))
        skipped: tuple[str, ...] = ()
        plausible = Plausibility()
        if verdict.passed:
            # Against the previous accepted snapshot, as it stands now: in a window the
            # day before was gated (and written, if accepted) just before this one.
            kept = self._kept if self._kept_through == day - timedelta(days=1) else None
            plausible = check_delivery(
                self.con, self.extract_name, day, file, self.rules.plausibility, before=kept, before_read=self._write
            )
            skipped = plausible.notes
            verdict = dataclasses.replace(
                verdict,
                passed=plausible.passed,
                failures=verdict.failures + plausible.failures,
                evaluated=verdict.evaluated + plausible.evaluated,
            )
        if not verdict.passed:
            self._kept = self._kept_through = None  # raw keeps the day's previous rows, if any
            return self._quarantine(day, file.path, verdict.message(), verdict, rows=file.table.num_rows)
        for note in skipped:
            log.info("%s for %s: %s", self.extract_name, day, note)
        notes = self._notes(day, file)
        open_before = self._open.pop(day, 0)
        # Written with the window's other accepted days (``_write``), before anything reads them.
        self._pending_writes.append(Accepted(day, file, open_before > 0, _now()))
        loaded = LoadResult(
            self.extract_name,
            day,
            "loaded",
            str(file.path),
            file.checksum_sha256,
            file.table.num_rows,
            file.encoding,
            day,
        )
        self._kept, self._kept_through = plausible.accepted, day  # None: nothing to keep (checks off)
        if self._loads is not None:
            self._loads[day] = "loaded"
            (self._row_days.add if file.table.num_rows else self._row_days.discard)(day)
        self._last_loaded = (day, loaded.checksum_sha256, loaded.source_file)  # as raw._loads records it
        if open_before:
            log.info(
                "%s for %s: accepted %s; released %d quarantined deliver%s",
                self.extract_name,
                day,
                file.path,
                open_before,
                "y" if open_before == 1 else "ies",
            )
        return _gated(loaded, gate=verdict, released=open_before, notes=notes, info=skipped)

    def _no_delivery(self, day: date) -> Iterator[GatedLoad]:
        earlier_results: list[GatedLoad] = []

        def load_earlier(earlier: date) -> bool:
            # The snapshot in force was delivered before the window: it is used from ``day``
            # on, so its ids are checked against the masters in force on ``day``.
            if earlier in self._rejected_earlier:
                return False
            result = next(r for r in self.run([earlier], ids_as_of=day) if r.day == earlier)
            earlier_results.append(result)
            if not result.passed:
                self._rejected_earlier.add(earlier)
            return result.passed

        # No file for the day in the landing folder: a rejected delivery of it is not
        # waiting any more (withdrawn, or the day settled on the snapshot in force).
        released = 0
        if self._open.pop(day, 0):
            released = release_quarantined(
                self.con,
                self.extract_name,
                day,
                _now(),
                "withdrawn: no file for the day in the landing folder any more",
            )
        if released:
            log.info("%s for %s: no file any more; released %d quarantined delivery", self.extract_name, day, released)
        quick = self._snapshot_in_force(day)
        if quick is not None:
            if self._kept_through == day - timedelta(days=1):  # nothing loaded this day
                self._kept_through = day
            yield _gated(quick, released=released)
            return
        self._kept = self._kept_through = None
        self._write()  # no_delivery reads raw.<extract> and raw._loads
        self._record_no_deliveries()
        withdrawn: list[Withdrawal] = []
        result = no_delivery(
            self.con,
            self.landing_dir,
            self.extract_name,
            day,
            self.mapping,
            self.encodings,
            load_earlier=load_earlier,
            keep_withdrawn=withdrawn_dir(self.data_dir),
            on_withdraw=withdrawn.append,
            transaction=False,
        )
        if self._loads is not None:
            self._loads[day] = "no_delivery"
            self._row_days.discard(day)
        yield from earlier_results
        yield _gated(result, released=released, notes=tuple(w.describe() for w in withdrawn))

    def _snapshot_in_force(self, day: date) -> LoadResult | None:
        """``loader.no_delivery`` for a snapshot extract's day without a file, in the
        common case, without its queries: nothing was loaded for the day (nothing to
        withdraw) and an accepted snapshot is in force (none: ``no_delivery`` loads one
        or fails). The load record is written with the window's others
        (``_record_no_deliveries``). None: not that case."""
        if self.extract.delivery != "snapshot":
            return None
        if self._loads is None:  # raw._loads and the raw table's days, as they stand; kept up to date
            self._write()
            self._loads = dict(
                self.con.execute(
                    f"SELECT partition_date, status FROM {RAW_SCHEMA}._loads WHERE extract = ?", [self.extract_name]
                ).fetchall()
            )
            self._row_days = {
                d
                for (d,) in self.con.execute(
                    f'SELECT DISTINCT {PARTITION_COLUMN} FROM {RAW_SCHEMA}."{self.extract_name}"'
                ).fetchall()
            }
        if self._loads.get(day) == "loaded" or day in self._row_days:
            return None
        in_force = max((d for d, status in self._loads.items() if status == "loaded" and d < day), default=None)
        if in_force is None:
            return None
        self._loads[day] = "no_delivery"
        self._pending_no_delivery.append((day, _now()))
        return LoadResult(self.extract_name, day, "no_delivery", None, None, 0, None, in_force)

    def _write(self) -> None:
        """Write the accepted days held back (``loader.write_days``: the rows, load
        records and quarantine releases ``write_day`` writes, in a few statements)."""
        if self._pending_writes:
            write_days(self.con, self.extract_name, self._pending_writes, transaction=False)
            self._pending_writes = []

    def _record_no_deliveries(self) -> None:
        """Write the load records of the days ``_snapshot_in_force`` answered (as
        ``loader.no_delivery`` does, one statement for all)."""
        if not self._pending_no_delivery:
            return
        n = len(self._pending_no_delivery)
        record_loads(
            self.con,
            self.extract_name,
            [day for day, _ in self._pending_no_delivery],
            "no_delivery",
            [None] * n,
            [None] * n,
            [0] * n,
            [at for _, at in self._pending_no_delivery],
        )
        self._pending_no_delivery.clear()

    def _notes(self, day: date, file: ExtractFile) -> tuple[str, ...]:
        if self.extract_name != "inventory":
            return ()
        # The inventory file carries no as-of date. A file byte-identical to the one
        # accepted for the day before is most likely that day's snapshot sent again; it
        # is also what a day without any stock movement gives, so it is a warning.
        last = self._last_loaded
        if last is not None and last[0] == day - timedelta(days=1):  # loaded by this gate: known
            before = (last[2],) if last[1] == file.checksum_sha256 else None
        else:
            self._write()
            before = self.con.execute(
                f"SELECT source_file FROM {RAW_SCHEMA}._loads WHERE extract = ? AND partition_date = ? "
                "AND status = 'loaded' AND checksum_sha256 = ?",
                [self.extract_name, day - timedelta(days=1), file.checksum_sha256],
            ).fetchone()
        if before is None:
            return ()
        return (
            f"{file.path}: byte-identical to the file accepted for {day - timedelta(days=1)} ({before[0]}): "
            "the previous day's snapshot delivered again? Accepted (a day without stock movement looks the "
            "same); check with the warehouse and re-deliver if it is wrong.",
        )

    def _quarantine(self, day: date, path: Path, reason: str, verdict: GateResult | None, rows: int = 0) -> GatedLoad:
        data = path.read_bytes()
        checksum = hashlib.sha256(data).hexdigest()
        target = quarantine_dir(self.data_dir) / self.extract_name / day.isoformat() / f"{checksum[:12]}-{path.name}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, target)
        result = GatedLoad(
            self.extract_name,
            day,
            "quarantined",
            str(path),
            checksum,
            rows,
            gate=verdict,
            reason=reason,
            quarantine_file=target,
        )
        failed = json.dumps(result.failed_expectations(), ensure_ascii=False, default=str)
        now = _now()
        # In the window's transaction (``run``).
        # The same rejected file again (a re-run): one open record, refreshed.
        updated = self.con.execute(
            f"UPDATE {QUARANTINE_TABLE} SET quarantined_at = ?, reason = ?, failed_expectations = ?, "
            "source_file = ?, quarantine_file = ? WHERE extract = ? AND partition_date = ? "
            "AND checksum_sha256 = ? AND released_at IS NULL RETURNING 1",
            [now, reason, failed, str(path), str(target), self.extract_name, day, checksum],
        ).fetchall()
        if not updated:
            self.con.execute(
                f"INSERT INTO {QUARANTINE_TABLE} (extract, partition_date, source_file, checksum_sha256, "
                "quarantine_file, quarantined_at, reason, failed_expectations, released_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                [self.extract_name, day, str(path), checksum, str(target), now, reason, failed],
            )
            self._open[day] = self._open.get(day, 0) + 1
        log.error("%s for %s: QUARANTINED %s (copy: %s)\n%s", self.extract_name, day, path, target, reason)
        return result

    def _explain(self, path: Path, exc: LandingError) -> str:
        """The reader's message, plus the row that breaks a CSV when the parser did not say."""
        message = str(exc)
        if "CSV cannot be parsed" not in message:
            return message
        where = _csv_row_with_wrong_field_count(path, self.encodings)
        return f"{message} [{where}]" if where else message


def _csv_row_with_wrong_field_count(path: Path, encodings: list[str]) -> str | None:
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for encoding in encodings:
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            return None
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows)
        for number, row in enumerate(rows, 1):
            if row and len(row) != len(header):
                line = rows.line_num
                last = next(rows, None) is None
                return f"{path} row {number} (line {line}) has {len(row)} field(s), the header has {len(header)}" + (
                    "; it is the last row: was the file still being written?" if last else ""
                )
    except (OSError, EOFError, zlib.error, csv.Error, StopIteration):
        return None
    return None


def _suite_parameters(rules: QualityConfig, extract_name: str) -> dict[str, Any]:
    """The suite parameters restock.yaml's ``quality`` section sets (orders only)."""
    if extract_name == "orders":
        return {"outlier_k": rules.outlier_k, "max_quantity": rules.max_quantity}
    return {}


def _gated(
    result: LoadResult,
    *,
    gate: GateResult | None = None,
    released: int = 0,
    notes: tuple[str, ...] = (),
    info: tuple[str, ...] = (),
) -> GatedLoad:
    return GatedLoad(
        result.extract,
        result.day,
        result.status,
        result.source_file,
        result.checksum_sha256,
        result.row_count,
        result.encoding,
        result.snapshot_in_force,
        gate=gate,
        released=released,
        notes=notes,
        info=info,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


__all__ = [
    "GatedLoad",
    "load_gated_day",
    "load_gated_days",
    "open_quarantines",
    "quarantine_dir",
    "withdrawn_dir",
    "data_docs_dir",
    "DAYS_PER_VALIDATION",
]
