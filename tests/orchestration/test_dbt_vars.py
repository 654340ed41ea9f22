"""The partition window -> dbt --vars function, on its own (no dbt run)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from restock.config import RestockConfig


def test_one_day_and_a_range_become_inclusive_min_and_max_dates_with_the_business_rules():
    from orchestration.assets.dbt import dbt_vars_for_window

    config = RestockConfig().override({"tiers.window_weeks": 8, "extracts.inventory.quantity_unit": "case"})
    day = dbt_vars_for_window(date(2024, 3, 2), date(2024, 3, 2), config, "/w/warehouse.duckdb")
    assert day == {
        "min_date": "2024-03-02",
        "max_date": "2024-03-02",
        "tier_window_weeks": 8,
        "tier_volume_band_edges": [2, 4, 7, 11, 16, 23, 32, 45, 65],
        "tier_price_band_edges": [120, 250],
        "new_customer_max_tier": 10,
        "inventory_quantity_unit": "case",
        "warehouse_path": "/w/warehouse.duckdb",
    }
    span = dbt_vars_for_window(date(2024, 1, 1), date(2024, 12, 31), RestockConfig(), "x.duckdb")
    assert (span["min_date"], span["max_date"]) == ("2024-01-01", "2024-12-31")


def test_a_partition_range_maps_to_its_inclusive_days():
    from orchestration.assets.dbt import dbt_vars_for_window
    from orchestration.partitions import daily_partitions, inclusive_days

    keys = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange("2024-01-30", "2024-02-02"))
    windows = daily_partitions.time_windows_for_partition_keys(frozenset(keys))
    window = dg.TimeWindow(min(w.start for w in windows), max(w.end for w in windows))
    first, last = inclusive_days(window)
    assert (first, last) == (date(2024, 1, 30), date(2024, 2, 2)), "the window's end is exclusive"
    dbt_vars = dbt_vars_for_window(first, last, RestockConfig(), "x.duckdb")
    assert (dbt_vars["min_date"], dbt_vars["max_date"]) == ("2024-01-30", "2024-02-02")
    one = daily_partitions.time_window_for_partition_key("2024-02-29")
    assert inclusive_days(one) == (date(2024, 2, 29), date(2024, 2, 29))
