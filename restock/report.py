"""Print where the tables are and a few rows of each mart (the end of `make demo`)."""

from __future__ import annotations

import sys

from restock.settings import load_settings
from restock.warehouse import connect

MARTS = ("customers", "products", "order_lines", "customer_sku_weekly_demand", "inventory_positions")
PREVIEWS = {
    "customer_sku_weekly_demand": "select * from marts.customer_sku_weekly_demand "
    "where week_start = (select max(week_start) from marts.customer_sku_weekly_demand) "
    "order by requested_qty desc limit 5",
    "inventory_positions": "select * from marts.inventory_positions "
    "where as_of_date = (select max(as_of_date) from marts.inventory_positions) "
    "order by inventory_position_qty limit 5",
    "customers": "select tier_source, count(*) as customers, min(tier) as min_tier, max(tier) as max_tier "
    "from marts.customers where as_of_date = (select max(as_of_date) from marts.customers) and is_active "
    "group by tier_source order by tier_source",
}


def main() -> int:
    settings = load_settings()
    if not settings.warehouse_path.exists():
        print(f"no warehouse at {settings.warehouse_path}: run `make demo` or `make backfill` first")
        return 1
    con = connect(settings.warehouse_path, read_only=True)
    print(f"\nWarehouse (DuckDB, open read-only when no run is writing): {settings.warehouse_path}")
    print(f"Landing folder: {settings.landing_dir}\n")
    print(f"{'table':<38} {'rows':>12}  period")
    for mart in MARTS:
        date_col = {"order_lines": "order_date", "customer_sku_weekly_demand": "week_start"}.get(mart, "as_of_date")
        rows, first, last = con.execute(f"select count(*), min({date_col}), max({date_col}) from marts.{mart}").fetchone()
        print(f"marts.{mart:<32} {rows:>12,}  {first} .. {last}")
    for mart, sql in PREVIEWS.items():
        print(f"\n-- marts.{mart}")
        print(con.execute(sql).df().to_string(index=False))
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
