"""What loading one day of an extract through its gate came to (:class:`GatedLoad`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from restock.quality import GateResult


@dataclass(frozen=True)
class GatedLoad:
    extract: str
    day: date
    status: str  # "loaded" | "no_delivery" | "quarantined"
    source_file: str | None
    checksum_sha256: str | None
    row_count: int  # rows loaded (loaded), rows in the rejected file (quarantined; 0 when unreadable)
    encoding: str | None = None
    snapshot_in_force: date | None = None
    gate: GateResult | None = None
    reason: str | None = None  # why the file was rejected: the gate's message or the reader's error
    quarantine_file: Path | None = None
    released: int = 0  # open quarantine records of this day released by this load
    notes: tuple[str, ...] = field(default_factory=tuple)  # warnings outside the suite
    info: tuple[str, ...] = field(default_factory=tuple)  # not warnings: e.g. a plausibility check skipped

    @property
    def passed(self) -> bool:
        return self.status != "quarantined"

    @property
    def data_docs_path(self) -> Path | None:
        return self.gate.data_docs_path if self.gate is not None else None

    @property
    def warnings(self) -> int:
        return (len(self.gate.warnings) if self.gate is not None else 0) + len(self.notes)

    def message(self) -> str:
        if self.reason:
            return self.reason
        if self.gate is not None:
            return self.gate.message()
        return f"{self.extract} for {self.day}: {self.status}"

    def failed_expectations(self) -> list[dict[str, Any]]:
        """Failing expectations with counts and sample rows (file, row, column values)."""
        if self.gate is not None and not self.gate.passed:
            return self.gate.as_metadata()["failed"]
        if self.status == "quarantined":
            return [
                {
                    "type": "file_is_readable",
                    "column": None,
                    "unexpected_count": None,
                    "element_count": None,
                    "error": self.reason,
                    "rows": [],
                }
            ]
        return []
