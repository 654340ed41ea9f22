"""What a validation found: ``GateResult`` with its failing expectations and rows.

A ``GateResult`` says whether the frame passed, lists the failing expectations with
up to five failing rows each (file, row, delivered value) and reads as a
``message()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FailedRow:
    source_file: str | None
    source_row: int | None
    values: dict[str, Any]  # delivered column -> value (derived value too, e.g. quantity__z)

    def describe(self) -> str:
        where = f"{self.source_file or '<frame>'} row {self.source_row}"
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        return f"{where}: {shown}"


@dataclass(frozen=True)
class FailedExpectation:
    expectation_type: str
    columns: tuple[str, ...]  # as delivered (derived suffixes stripped)
    checked_columns: tuple[str, ...]  # as the suite names them
    severity: str
    description: str
    unexpected_count: int | None
    element_count: int | None
    rows: tuple[FailedRow, ...]
    error: str | None = None  # GE raised (e.g. a column is missing)
    observed: str | None = None  # a table- or column-level check: what was found

    @property
    def column(self) -> str | None:
        return ", ".join(self.columns) or None

    def describe(self) -> str:
        what = self.description or self.expectation_type
        head = f"{self.column or '(table)'}: {what} [{self.expectation_type}]"
        if self.error:
            return f"{head}: {self.error}"
        if self.unexpected_count is not None:
            head += f": {self.unexpected_count} of {self.element_count} rows"
        elif self.observed:
            head += f": {self.observed}"
        lines = [head] + [f"    {r.describe()}" for r in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class GateResult:
    suite_name: str
    passed: bool
    row_count: int
    evaluated: int
    failures: tuple[FailedExpectation, ...]  # severity critical: these block
    warnings: tuple[FailedExpectation, ...] = ()  # severity warning / info: reported only
    partition_date: date | None = None
    data_docs_path: Path | None = None
    elapsed_s: float = 0.0
    source_files: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        day = f" for {self.partition_date}" if self.partition_date else ""
        files = f" ({', '.join(self.source_files)})" if self.source_files else ""
        if self.passed:
            head = f"{self.suite_name}{day}: passed {self.evaluated} expectations on {self.row_count} rows{files}"
        else:
            head = (
                f"{self.suite_name}{day}: FAILED {len(self.failures)} of {self.evaluated} expectations "
                f"on {self.row_count} rows{files}"
            )
        parts = [head] + [f"- {f.describe()}" for f in self.failures]
        parts += [f"- (warning) {w.describe()}" for w in self.warnings]
        if self.data_docs_path:
            parts.append(f"Data Docs: {self.data_docs_path}")
        return "\n".join(parts)

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for an asset-check / log record."""
        return {
            "suite": self.suite_name,
            "passed": self.passed,
            "rows": self.row_count,
            "evaluated": self.evaluated,
            "failed": [
                {
                    "type": f.expectation_type,
                    "column": f.column,
                    "unexpected_count": f.unexpected_count,
                    "element_count": f.element_count,
                    "error": f.error,
                    "rows": [
                        {
                            "source_file": r.source_file,
                            "source_row": r.source_row,
                            "values": {k: _show(v) for k, v in r.values.items()},
                        }
                        for r in f.rows
                    ],
                }
                for f in self.failures
            ],
            "warnings": len(self.warnings),
            "data_docs": str(self.data_docs_path) if self.data_docs_path else None,
        }


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    try:
        import pandas as pd

        if pd.isna(value):
            return "NULL"
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return repr(str(value))
