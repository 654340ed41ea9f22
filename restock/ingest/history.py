"""Gaps in the raw history a day's tables are built from.

A day's published tables read weeks of earlier days (trailing tiers, segments,
product classes, forecasts). A daily file that never arrived, or a delivery still in
quarantine, within that lookback turns into "no orders" or a stale day for every day
after it, silently. ``history_gaps`` finds them from the raw layer's ledgers:

* ``missing``: a day of a daily extract (orders, inventory) with no accepted load in
  ``raw._loads``, between the extract's first accepted day (history starts there)
  and the day;
* ``quarantined``: a delivery of any extract in ``raw._quarantine`` not released yet
  (the day kept its previous accepted rows, or none).

The publish step blocks (or warns about, ``quality.history_gaps.action``) a day with
gaps. Reads the warehouse only; no Dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from restock.contract import EXTRACTS
from restock.ingest.landing import expected_paths
from restock.ingest.raw_tables import QUARANTINE_TABLE, RAW_SCHEMA

DAILY_EXTRACTS = tuple(name for name, e in EXTRACTS.items() if e.delivery == "daily")


@dataclass(frozen=True)
class HistoryGap:
    extract: str
    day: date
    kind: str  # "missing" | "quarantined"
    file: str  # the quarantined delivery, or the landing path expected

    def describe(self) -> str:
        if self.kind == "quarantined":
            return f"{self.extract} {self.day}: {self.file} is quarantined (deliver a corrected file or withdraw it)"
        return f"{self.extract} {self.day}: no accepted file ({self.file} never arrived or was rejected)"


def history_gaps(con, days: Iterable[date], lookback_days: int, landing_dir: Path) -> dict[date, list[HistoryGap]]:
    """day -> the gaps in ``[day - lookback_days, day]`` (days without gaps are left out)."""
    days = sorted(set(days))
    if not days or not _has_ledgers(con):
        return {}
    first, last = days[0] - timedelta(days=lookback_days), days[-1]
    gaps: list[HistoryGap] = []
    for extract in DAILY_EXTRACTS:
        start = con.execute(
            f"SELECT min(partition_date) FROM {RAW_SCHEMA}._loads WHERE extract = ? AND status = 'loaded'", [extract]
        ).fetchone()[0]
        if start is None:
            continue  # nothing of it loaded yet: the day's own run fails on its missing file
        loaded = {
            r[0]
            for r in con.execute(
                f"SELECT partition_date FROM {RAW_SCHEMA}._loads "
                "WHERE extract = ? AND status = 'loaded' AND partition_date BETWEEN ? AND ?",
                [extract, max(start, first), last],
            ).fetchall()
        }
        day = max(start, first)
        while day <= last:
            if day not in loaded:
                path = expected_paths(landing_dir, extract, day)[0]
                gaps.append(HistoryGap(extract, day, "missing", str(path)))
            day += timedelta(days=1)
    for extract, day, source_file in con.execute(
        f"SELECT extract, partition_date, source_file FROM {QUARANTINE_TABLE} "
        "WHERE released_at IS NULL AND partition_date BETWEEN ? AND ? ORDER BY partition_date, extract",
        [first, last],
    ).fetchall():
        gaps.append(HistoryGap(extract, day, "quarantined", source_file))
    gaps.sort(key=lambda g: (g.day, g.extract, g.kind))
    out: dict[date, list[HistoryGap]] = {}
    for day in days:
        found = [g for g in gaps if day - timedelta(days=lookback_days) <= g.day <= day]
        if found:
            out[day] = found
    return out


def _has_ledgers(con) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('_loads', ?)",
        [RAW_SCHEMA, QUARANTINE_TABLE.split(".", 1)[1]],
    ).fetchone()[0]
    return bool(found == 2)
