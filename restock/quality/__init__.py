"""Data-quality gates: Great Expectations suites (expectations/*.json) run on frames.

Pure code (no Dagster import). ``great_expectations`` is imported lazily, on the
first validation, so importing this package stays cheap.
"""

from restock.quality.gates import (
    FailedExpectation,
    FailedRow,
    GateResult,
    SuiteError,
    load_suite,
    prepare_frame,
    quantity_baseline,
    suite_path,
    validate_days,
    validate_frame,
)

__all__ = [
    "FailedExpectation",
    "FailedRow",
    "GateResult",
    "SuiteError",
    "load_suite",
    "prepare_frame",
    "quantity_baseline",
    "suite_path",
    "validate_days",
    "validate_frame",
]
