"""Building the days of a long run (a backfill) in worker processes, writing them here.

The daily tables built in Python (``customer_segments``, the accuracy reviews, the
replenishment tables) are one independent computation per as-of day (or review
origin): a day reads the marts and the forecasts on or before it, never the table's own
other days. :func:`run_in_workers` builds blocks
of consecutive days in a process pool and writes them from the calling process.

DuckDB lets one process write a file, or several processes read it, never both: the
workers open the warehouse read-only while the calling process holds no connection,
then, once a round of blocks (one per worker) is built, the caller opens the
read-write connection and writes the round in one transaction (a killed run leaves
whole rounds; the re-run replaces the days). A failing day raises its error after the
days before it are written; the days after it are not written, as in a loop of days.

Frames come back with their object columns (strings, dates) as codes into their
distinct values: pickling one object per row took ~0.8 s for 14 demo days of
replenishment, the codes ~0.03 s. The workers' log records are handled in the calling
process, so a warning reaches the run's log as it did from a loop of days.
"""

from __future__ import annotations

import logging
import os
import pickle
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from restock.config import BackfillConfig

# frames of one day by table name; None: nothing to write that day (counted as skipped)
DayFrames = dict[str, pd.DataFrame]
# (connection, the block's days, the caller's picklable argument) -> (day, frames or None) in day order
BuildBlock = Callable[["DuckDBPyConnection", list[date], Any], Iterator[tuple[date, DayFrames | None]]]
# (connection, [(day, frames)]) -> rows written per table, all the days in one transaction
WriteDays = Callable[["DuckDBPyConnection", list[tuple[date, DayFrames]]], dict[str, int]]
Progress = Callable[[int, date, dict[str, int], int], None]


def uses_workers(settings: BackfillConfig, days: int) -> bool:
    """Whether a run of ``days`` days builds them in workers (``backfill`` of
    restock.yaml): with two workers or more, for at least two blocks of days."""
    return settings.workers > 1 and days >= 2 * settings.block_days


def run_in_workers(
    open_writer: Callable[[], AbstractContextManager[DuckDBPyConnection]],
    path: Path,
    days: Sequence[date],
    build_block: BuildBlock,
    argument: object,
    write_days: WriteDays,
    settings: BackfillConfig,
    memory_limit: str | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, int], list[date]]:
    """Build ``days`` with ``build_block`` (a module-level function, run in the workers
    on a read-only connection to the warehouse file ``path`` with ``argument``) in
    blocks of ``settings.block_days``, ``settings.workers`` blocks a round, and write
    each round with ``write_days`` on ``open_writer()`` (a context manager giving the
    read-write connection, e.g. the Dagster resource's). Returns rows written per table and the
    days built as None. ``progress(days done, day, rows so far, days skipped)`` after
    each day, once its round is written. ``settings.workers`` ≥ 2 (the caller runs a
    loop of days otherwise, see :func:`uses_workers`)."""
    from restock.worker_pool import make_pool

    workers, block_days = settings.workers, settings.block_days
    if workers < 2:
        raise ValueError(f"run_in_workers needs at least 2 workers, got {workers}")
    totals: dict[str, int] = {}
    skipped: list[date] = []
    done = 0
    threads = max(1, (os.cpu_count() or 1) // workers)  # DuckDB's per worker: they share the cores
    level = logging.getLogger("restock").getEffectiveLevel()
    blocks = [list(days[i : i + block_days]) for i in range(0, len(days), block_days)]
    pool = make_pool(workers)
    assert pool is not None
    with pool:
        for first in range(0, len(blocks), workers):
            jobs = [
                pool.submit(_build, path, block, build_block, argument, memory_limit, threads, level)
                for block in blocks[first : first + workers]
            ]
            results = [job.result() for job in jobs]
            written: list[tuple[date, DayFrames]] = []
            round_days: list[date] = []
            error: BaseException | None = None
            for result in results:
                for record in result.records:
                    logger = logging.getLogger(record.name)
                    if logger.isEnabledFor(record.levelno):
                        logger.handle(record)
                for day, frames in result.built:
                    round_days.append(day)
                    if frames is None:
                        skipped.append(day)
                    else:
                        written.append((day, {name: packed.unpack() for name, packed in frames.items()}))
                if result.error is not None:
                    error = result.error
                    error.add_note(f"raised in a worker process:\n{result.error_traceback}")
                    break
            if written:
                with open_writer() as con:
                    for name, rows in write_days(con, written).items():
                        totals[name] = totals.get(name, 0) + rows
            for day in round_days:
                done += 1
                if progress:
                    progress(done, day, totals, len(skipped))
            if error is not None:
                raise error
    return totals, skipped


def replace_days(
    con: DuckDBPyConnection,
    tables: Mapping[str, Sequence[str]],
    day_column: str,
    days: Sequence[tuple[date, Mapping[str, pd.DataFrame]]],
) -> dict[str, int]:
    """Replace ``days`` in each table of ``tables`` (qualified name -> columns; the
    frames are keyed by that name) in one transaction: one delete and one insert per
    table. Raises ``ValueError`` for a row whose ``day_column`` is not its day."""
    from restock.warehouse import replace_rows_of_days

    if not days:
        return dict.fromkeys(tables, 0)
    for day, frames in days:
        for table in tables:
            frame = frames[table]
            if len(frame) and (frame[day_column] != day).any():
                raise ValueError(f"{table}: rows whose {day_column} is not {day}")
    dates = [day for day, _ in days]
    counts = {}
    con.execute("begin transaction")
    try:
        for table, columns in tables.items():
            parts = [frames[table] for _, frames in days]
            frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
            counts[table] = replace_rows_of_days(con, table, day_column, dates, frame, columns)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return counts


@dataclass
class _Packed:
    """A frame on its way from a worker: its object columns as codes into their
    distinct values (see the module docstring)."""

    frame: pd.DataFrame
    coded: dict[str, pd.Index]

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Packed:
        frame, coded = frame.copy(), {}
        for column in [c for c in frame.columns if pd.api.types.is_object_dtype(frame[c])]:
            codes, coded[column] = pd.factorize(frame[column])
            frame[column] = codes
        return cls(frame, coded)

    def unpack(self) -> pd.DataFrame:
        """The frame as built (a missing value comes back as None: NULL in the table, as before)."""
        frame = self.frame.copy()
        for column, values in self.coded.items():
            codes = frame[column].to_numpy()
            taken = values.to_numpy(dtype=object).take(codes, mode="clip") if len(values) else codes.astype(object)
            frame[column] = np.where(codes < 0, None, taken)
        return frame


@dataclass
class _Block:
    """What a worker built: (day, frames or None) in order, then the error that stopped
    it (None: every day built), its traceback text and the log records it emitted."""

    built: list[tuple[date, dict[str, _Packed] | None]] = field(default_factory=list)
    error: BaseException | None = None
    error_traceback: str = ""
    records: list[logging.LogRecord] = field(default_factory=list)


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        # Formatted here: the arguments may not pickle, the message does.
        record.msg, record.args, record.exc_info = record.getMessage(), None, None
        self.records.append(record)


def _build(
    path: Path,
    days: list[date],
    build_block: BuildBlock,
    argument: object,
    memory_limit: str | None,
    threads: int,
    level: int,
) -> _Block:
    """In a worker process: ``build_block`` over ``days`` on a read-only connection to
    ``path``; stops at the first failing day."""
    from restock.warehouse import connect

    block = _Block()
    restock_log = logging.getLogger("restock")
    handler = _ListHandler(block.records)
    restock_log.addHandler(handler)
    restock_log.setLevel(level)
    restock_log.propagate = False
    try:
        con = connect(path, read_only=True, memory_limit=memory_limit)
        try:
            con.execute(f"set threads = {threads}")
            # A worker's stdout is the run's: no bar drawn by a query of a few seconds.
            con.execute("set enable_progress_bar = false")
            for day, frames in build_block(con, days, argument):
                packed = None if frames is None else {name: _Packed.of(frame) for name, frame in frames.items()}
                block.built.append((day, packed))
        finally:
            con.close()
    except Exception as error:  # noqa: BLE001 - handed to the parent, which raises it
        block.error_traceback = traceback.format_exc()
        try:
            pickle.dumps(error)
            block.error = error
        except Exception:  # noqa: BLE001 - an error that does not pickle travels as text
            block.error = RuntimeError(f"{type(error).__name__}: {error}")
    finally:
        restock_log.removeHandler(handler)
    return block


__all__ = ["replace_days", "run_in_workers", "uses_workers"]
