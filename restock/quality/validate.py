"""``validate_frame``: validate one frame against one suite and explain the failures."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restock.quality.frames import SOURCE_FILE, prepare_frame
from restock.quality.results import FailedExpectation, GateResult
from restock.quality.runner import read_failures, run_suite, suite_passes
from restock.quality.suites import load_suite, resolve_parameters

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def validate_frame(
    suite_name: str,
    df: pd.DataFrame,
    parameters: dict[str, Any] | None = None,
    *,
    data_docs_dir: Path | str | None = None,
    quantity_baseline: pd.DataFrame | None = None,
    directory: Path | None = None,
) -> GateResult:
    """Validate ``df`` against ``expectations/<suite_name>.json``.

    ``parameters``: values for the suite's ``$PARAMETER`` names (e.g. ``partition_date``,
    ``known_customer_ids``, ``known_skus``); suite defaults fill the rest; a missing
    one raises ``SuiteError`` before anything runs. ``quantity_baseline``: per-customer
    ``mean`` / ``std`` indexed by ``customer_id``, for the ``__z`` outlier check (e.g.
    ``restock.ingest.order_baseline.quantity_baseline``; without it that check has
    nothing to compare with and passes). ``data_docs_dir``: when an expectation fails
    (any severity), also write the Data Docs site there (index.html + one page for this
    validation; ``GateResult.data_docs_path``); a validation where everything passes
    gets no page (building one costs 0.2-0.5 s, and a daily run has a dozen gates).

    ``passed`` is False when any expectation of severity ``critical`` (the default)
    fails or raises; ``warning`` / ``info`` failures are listed in ``warnings``.
    """
    t0 = time.perf_counter()
    suite = load_suite(suite_name, directory)
    params = resolve_parameters(suite, parameters)
    frame = prepare_frame(suite, df, params, quantity_baseline)
    partition = params.get("partition_date")
    run_name = f"{suite_name}_{partition.date().isoformat()}" if isinstance(partition, datetime) else suite_name
    files = tuple(sorted({str(f) for f in frame[SOURCE_FILE].dropna().unique()})) if len(frame) else ()
    day = partition.date() if isinstance(partition, datetime) else None
    # Pass/fail first (no failing rows collected; most gates pass): the detailed run,
    # whose result is the same, and its Data Docs page only when anything fails or warns.
    evaluated = suite_passes(suite, frame, params)
    failures: tuple[FailedExpectation, ...] = ()
    warnings: tuple[FailedExpectation, ...] = ()
    page = None
    if evaluated is None:
        docs = Path(data_docs_dir) if data_docs_dir is not None else None
        result, page = run_suite(suite, frame, params, run_name, docs)
        failures, warnings = read_failures(result, frame)
        evaluated = len(result.results)
    return GateResult(
        suite_name=suite_name,
        passed=not failures,
        row_count=len(frame),
        evaluated=evaluated,
        failures=failures,
        warnings=warnings,
        partition_date=day,
        data_docs_path=page,
        elapsed_s=time.perf_counter() - t0,
        source_files=files[:3],
    )
