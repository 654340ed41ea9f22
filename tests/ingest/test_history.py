"""Gaps in a day's raw history (restock.ingest.history) read from the raw ledgers of a real DuckDB file."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from restock.ingest.history import history_gaps
from restock.ingest.raw_tables import create_raw_tables

D = date(2024, 3, 10)


def _ledger(tmp_path, loaded: dict[str, list[date]], quarantined=()):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_tables(con)
    for extract, days in loaded.items():
        for day in days:
            con.execute("insert into raw._loads values (?, ?, 'loaded', 'f', 'x', 1, now())", [extract, day])
    for extract, day, released in quarantined:
        con.execute(
            "insert into raw._quarantine (extract, partition_date, source_file, checksum_sha256, quarantine_file, "
            "quarantined_at, reason, failed_expectations, released_at) values (?, ?, ?, 'x', 'q', now(), 'bad', '[]', ?)",
            [extract, day, f"/landing/{extract}/{day}.csv", released],
        )
    return con


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_complete_history_has_no_gaps_and_history_starts_at_the_first_accepted_day(tmp_path):
    every = _days(D - timedelta(days=20), D)
    con = _ledger(tmp_path, {"orders": every, "inventory": every})
    assert history_gaps(con, [D], 182, tmp_path) == {}


def test_a_missing_daily_file_blocks_the_days_within_the_lookback_after_it(tmp_path):
    every = _days(D - timedelta(days=20), D + timedelta(days=3))
    missing = D - timedelta(days=5)
    con = _ledger(tmp_path, {"orders": [d for d in every if d != missing], "inventory": every})
    gaps = history_gaps(con, [missing - timedelta(days=1), D, D + timedelta(days=3)], 7, tmp_path)
    assert set(gaps) == {D}, "the day before has no gap; a day whose lookback ends before the gap neither"
    (gap,) = gaps[D]
    assert (gap.extract, gap.day, gap.kind) == ("orders", missing, "missing")
    assert str(tmp_path / "orders" / f"{missing}.csv") in gap.describe()


def test_an_open_quarantine_blocks_and_a_released_one_does_not(tmp_path):
    every = _days(D - timedelta(days=20), D)
    con = _ledger(
        tmp_path,
        {"orders": every, "inventory": every},
        quarantined=[
            ("products", D - timedelta(days=3), None),
            ("orders", D - timedelta(days=2), datetime(2024, 3, 9)),
        ],
    )
    (gap,) = history_gaps(con, [D], 30, tmp_path)[D]
    assert (gap.extract, gap.kind) == ("products", "quarantined")
    assert "/landing/products/" in gap.describe() and "quarantined" in gap.describe()


def test_an_empty_warehouse_has_no_gaps(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert history_gaps(con, [D], 30, tmp_path) == {}
