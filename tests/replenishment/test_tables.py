"""Writing a replenishment day: the three tables change together or not at all."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from restock import table_registry
from restock.replenishment.tables import TABLES, ensure_tables, write_replenishment

DAY = date(2025, 3, 2)


def _frames(tag: str) -> dict[str, pd.DataFrame]:
    """One row per table; text columns carry ``tag`` so two versions can be told apart."""
    frames = {}
    for table in TABLES:
        row: dict[str, object] = {}
        for name, column in table_registry.table(table)["columns"].items():
            kind = column["type"]
            row[name] = (
                DAY
                if kind == "DATE"
                else tag
                if kind == "VARCHAR"
                else 1
                if kind in ("INTEGER", "BIGINT")
                else (True if kind == "BOOLEAN" else 1.0)
            )
        frames[table] = pd.DataFrame([row])
    return frames


def test_a_failure_in_the_last_table_leaves_the_day_as_it_was(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_tables(con)
    assert write_replenishment(con, DAY, _frames("first")) == dict.fromkeys(TABLES, 1)
    broken = _frames("second")
    broken["inventory_alerts"] = broken["inventory_alerts"].drop(columns=["alert_type"])  # fails on insert
    with pytest.raises(KeyError):
        write_replenishment(con, DAY, broken)
    for table in TABLES:
        values = con.execute(f"select warehouse_id from analytics.{table} where as_of_date = ?", [DAY]).fetchall()
        assert values == [("first",)], f"{table} changed although the day failed"
    write_replenishment(con, DAY, _frames("second"))
    for table in TABLES:
        assert con.execute(f"select warehouse_id from analytics.{table}").fetchall() == [("second",)]
