"""restock.settings: the environment read once, a bad value named by its variable; and
DuckDB's memory limit applied where the warehouse is opened."""

from __future__ import annotations

import duckdb
import pytest

from restock.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, load_settings
from restock.warehouse import connect


def _limit_gib(con: duckdb.DuckDBPyConnection) -> float:
    # DuckDB answers in its own units, e.g. "3.7 GiB" for 4GB
    value, unit = con.execute("select current_setting('memory_limit')").fetchone()[0].split()
    return float(value) * {"MiB": 1 / 1024, "GiB": 1.0}[unit]


def test_the_duckdb_memory_limit_defaults_to_4gb_and_takes_duckdbs_forms():
    assert load_settings({}).duckdb_memory_limit == DEFAULT_DUCKDB_MEMORY_LIMIT == "4GB"
    for value in ("8GB", "512MB", "50%", " 2.5GiB "):
        assert load_settings({"RESTOCK_DUCKDB_MEMORY_LIMIT": value}).duckdb_memory_limit == value.strip()
    for value in ("lots", "4 gigs", "-1GB", "4"):
        with pytest.raises(ValueError, match=f"RESTOCK_DUCKDB_MEMORY_LIMIT='{value}' is not a DuckDB memory limit"):
            load_settings({"RESTOCK_DUCKDB_MEMORY_LIMIT": value})


def test_the_warehouse_is_opened_with_the_limit_and_other_connections_still_open(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    reader = duckdb.connect(str(path))  # opened first without a limit, e.g. a test's
    con = connect(path, memory_limit="1GB")
    try:
        assert _limit_gib(con) == pytest.approx(1e9 / 2**30, abs=0.01)
        assert _limit_gib(reader) == _limit_gib(con)  # one DuckDB instance per file and process
    finally:
        con.close()
        reader.close()
    with connect(path) as default:
        assert _limit_gib(default) > 1.0  # no limit given: DuckDB's own (80 % of the RAM)
