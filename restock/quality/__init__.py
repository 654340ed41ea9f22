"""Data-quality gates: Great Expectations suites (expectations/*.json) run on frames.

A generic runner: it knows suites, frames and GE, not what an extract's rows mean
(ingest builds extract-specific inputs, e.g. ``restock.ingest.order_baseline``).

- ``suites``: load a suite, resolve its parameters
- ``frames``: the frame GE validates (derived ``__num`` / ``__date`` / ... columns)
- ``runner``: run a suite through GE, read its results
- ``docs_site``, ``offline_docs``: the Data Docs site: earlier validations kept (for a
  while), pages that work offline
- ``ge_metrics``: GE's strftime check, once per distinct value (same verdicts)
- ``results``: ``GateResult`` and its failing expectations and rows
- ``validate``: ``validate_frame``, one frame
- ``batches``: ``validate_days``, several days in one GE run

Pure code (no Dagster import). ``great_expectations`` is imported on the first
validation, so importing this package stays cheap.
"""

from restock.quality.batches import validate_days
from restock.quality.frames import prepare_frame
from restock.quality.results import FailedExpectation, FailedRow, GateResult
from restock.quality.suites import SuiteError, load_suite, suite_path
from restock.quality.validate import validate_frame

__all__ = [
    "FailedExpectation",
    "FailedRow",
    "GateResult",
    "SuiteError",
    "load_suite",
    "prepare_frame",
    "suite_path",
    "validate_days",
    "validate_frame",
]
