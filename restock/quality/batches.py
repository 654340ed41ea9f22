"""``validate_days``: several days' frames (one landing file each) in one GE run.

GE's fixed cost is ~0.3 s per run whatever the size, which dominates a backfill of
hundreds of small daily files; each day still gets the verdict of its own run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restock.contract import PARTITION_COLUMN
from restock.quality.frames import INDEX_COLUMNS, SOURCE_FILE, as_date, prepare_frame
from restock.quality.results import FailedExpectation, GateResult
from restock.quality.runner import RowFinder, day_key, failed_expectation, raised_error, screen_suite, severity_of
from restock.quality.suites import load_suite, resolve_parameters
from restock.quality.validate import validate_frame

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


# Expectation types whose verdict is made of per-row verdicts, so one run over several
# days can be split by the failing rows' day. Uniqueness must be keyed by the day
# (expect_compound_columns_to_be_unique with _partition_date in column_list).
_ROW_LEVEL_PREFIXES = (
    "expect_column_values_to_",
    "expect_column_pair_values_",
    "expect_multicolumn_",
    "expect_select_column_values_",
)
_CROSS_ROW = (
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_increasing",
    "expect_column_values_to_be_decreasing",
)
_ROW_COUNT = "expect_table_row_count_to_be_between"


def batch_blockers(suite: dict[str, Any]) -> list[str]:
    """Why this suite cannot validate several days in one run (empty list: it can)."""
    why = []
    for exp in suite["expectations"]:
        kind, kw = exp["type"], exp["kwargs"]
        if kind == "expect_compound_columns_to_be_unique":
            if PARTITION_COLUMN not in (kw.get("column_list") or []):
                why.append(f"{kind} {kw.get('column_list')} is not keyed by {PARTITION_COLUMN}")
        elif kind in _CROSS_ROW:
            why.append(f"{kind} on {kw.get('column')} compares rows of different days")
        elif not (kind.startswith(_ROW_LEVEL_PREFIXES) or kind in ("expect_column_to_exist", _ROW_COUNT)):
            why.append(f"{kind} is not a per-row rule")
    return why


def validate_days(
    suite_name: str,
    frames: Mapping[date, pd.DataFrame],
    parameters: dict[str, Any] | None = None,
    *,
    data_docs_dir: Path | str | None = None,
    quantity_baseline: pd.DataFrame | None = None,
    directory: Path | None = None,
) -> dict[date, GateResult]:
    """``validate_frame`` for each day's frame (``frames``: day -> that day's rows), in
    as few GE runs as the verdicts allow; the same verdicts as one run per day.

    The days are validated together (``window_start`` / ``window_end`` = the first and
    last day, ``_partition_date`` = the day when the frame has none); every failing row
    is attributed to its day. A day without a blocking failure gets its result from that
    run (warnings with that day's counts and rows); a day without rows passes there when
    the row-count rule allows it. A day with a blocking failure, a day whose rows are
    not all of that day or whose columns differ, a day whose row count the suite's
    row-count rule rejects, and every day when a table-level rule fails, is validated
    again on its own: its
    result (message, counts, sample rows) is exactly ``validate_frame``'s, and its Data
    Docs page is written when ``data_docs_dir`` is given. Per-day parameters: give
    ``known_*`` as a mapping day -> values. ``partition_date`` is set per day.
    A suite with rules that are not per-row (``batch_blockers``) runs once per day.
    """
    import pandas as pd

    t0 = time.perf_counter()
    suite = load_suite(suite_name, directory)
    days = sorted(frames)
    common = {k: v for k, v in (parameters or {}).items() if k not in ("partition_date", "window_start", "window_end")}

    def alone(day: date) -> GateResult:
        return validate_frame(
            suite_name,
            frames[day],
            {**common, "partition_date": day},
            data_docs_dir=data_docs_dir,
            quantity_baseline=quantity_baseline,
            directory=directory,
        )

    if len(days) < 2 or batch_blockers(suite):
        return {day: alone(day) for day in days}
    recheck: set[date] = set()
    parts, batch_days = [], []
    columns = None
    for day in days:
        frame = frames[day]
        if columns is None:
            columns = list(frame.columns)
        if list(frame.columns) != columns:
            recheck.add(day)
            continue
        if PARTITION_COLUMN in frame.columns:
            if not (as_date(frame[PARTITION_COLUMN]) == pd.Timestamp(day)).all():
                recheck.add(day)
                continue
        else:
            frame = frame.assign(**{PARTITION_COLUMN: pd.Timestamp(day)})
        if len(frame):
            parts.append(frame)
        # A day without rows (a header-only file) stays in the run: every per-row rule
        # holds on no rows, its columns are the run's, the row-count rule is redone
        # per day below (tests/quality: test_a_day_without_rows_...).
        batch_days.append(day)
    results: dict[date, GateResult] = {}
    if len(batch_days) < 2 or not parts:
        recheck.update(batch_days)
    else:
        df = pd.concat(parts, ignore_index=True)
        params = resolve_parameters(suite, {**common, "window_start": batch_days[0], "window_end": batch_days[-1]})
        frame = prepare_frame(suite, df, params, quantity_baseline)
        results_of_run = screen_suite(suite, frame, params)  # as a COMPLETE run gives them
        rows = RowFinder(frame, [*INDEX_COLUMNS, PARTITION_COLUMN])
        day_rows = {day: len(frames[day]) for day in batch_days}
        warnings: dict[date, list[FailedExpectation]] = {day: [] for day in batch_days}
        for r in results_of_run:
            error = raised_error(r.exception_info)
            if r.success and not error:
                continue
            items = (r.result or {}).get("unexpected_index_list")
            if error or not isinstance(items, list) or not items:
                recheck.update(batch_days)  # table-level, or GE raised: each day on its own
                continue
            by_day: dict[date, list] = {}
            for item in items:
                by_day.setdefault(day_key(item.get(PARTITION_COLUMN)), []).append(item)
            if not by_day.keys() <= warnings.keys():  # a row GE could not place: each day on its own
                recheck.update(batch_days)
                continue
            critical = severity_of(r.expectation_config) == "critical"
            for day, day_items in by_day.items():
                if critical:
                    recheck.add(day)
                else:
                    warnings[day].append(failed_expectation(r, rows, day_items, len(day_items), day_rows[day], None))
        for exp in suite["expectations"]:  # evaluated on the whole run above: redo per day
            if exp["type"] == _ROW_COUNT:
                low, high = (
                    params.get(v["$PARAMETER"]) if isinstance(v, dict) else v
                    for v in (exp["kwargs"].get("min_value"), exp["kwargs"].get("max_value"))
                )
                recheck.update(
                    day
                    for day, n in day_rows.items()
                    if (low is not None and n < low) or (high is not None and n > high)
                )
        share = (time.perf_counter() - t0) / len(batch_days)
        for day in batch_days:
            if day in recheck:
                continue
            files = (
                tuple(sorted({str(f) for f in frames[day][SOURCE_FILE].dropna().unique()}))
                if SOURCE_FILE in frames[day].columns
                else ()
            )
            results[day] = GateResult(
                suite_name=suite_name,
                passed=True,
                row_count=day_rows[day],
                evaluated=len(results_of_run),
                failures=(),
                warnings=tuple(warnings[day]),
                partition_date=day,
                elapsed_s=share,
                source_files=files[:3],
            )
    for day in sorted(recheck):
        results[day] = alone(day)
    return {day: results[day] for day in days}
