"""The input contract (design.md, "Input contract: the landing folder") as data.

One ``Extract`` per landing sub-folder, the file suffixes it may come in and how a
file's name gives its day. The ground floor: the configuration, ingest and the
quality gates all name extracts and columns from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Lineage columns added to every raw row.
PARTITION_COLUMN = "_partition_date"  # DATE: the file's date = the partition key
LINEAGE_COLUMNS = {
    PARTITION_COLUMN: "DATE",
    "_source_file": "VARCHAR",  # path of the landing file the row came from
    "_source_row": "INTEGER",  # 1-based data row number in that file (header excluded)
    "_loaded_at": "TIMESTAMP",
}


@dataclass(frozen=True)
class Extract:
    name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    # "daily": a file every business day (a missing file fails the partition).
    # "snapshot": full snapshot delivered when it changes; a day without a file uses
    # the latest earlier snapshot, and the first partition needs one.
    delivery: str
    optional_extract: bool = False
    description: str = ""


EXTRACTS: dict[str, Extract] = {
    e.name: e
    for e in (
        Extract(
            name="customers",
            columns=(
                "customer_id",
                "customer_name",
                "channel",
                "region",
                "tier",
                "status",
                "opened_on",
                "closed_on",
                "order_weekday",
            ),
            required=("customer_id", "status"),
            delivery="snapshot",
            description="A customer, full snapshot as of that day.",
        ),
        Extract(
            name="orders",
            columns=(
                "order_id",
                "line_no",
                "customer_id",
                "sku",
                "order_date",
                "quantity",
                "requested_quantity",
                "unit_price",
                "amount",
                "status",
            ),
            required=("order_id", "line_no", "customer_id", "sku", "order_date", "quantity", "status"),
            delivery="daily",
            description="An order line created that day.",
        ),
        Extract(
            name="products",
            columns=(
                "sku",
                "product_name",
                "brand",
                "category",
                "price_band",
                "unit",
                "units_per_case",
                "unit_cost",
                "list_price",
                "lead_time_days",
                "lead_time_std_days",
                "moq_cases",
                "shelf_life_days",
                "status",
                "launched_on",
            ),
            required=("sku", "lead_time_days"),
            delivery="snapshot",
            description="A SKU, full snapshot.",
        ),
        Extract(
            name="inventory",
            columns=(
                "warehouse_id",
                "sku",
                "on_hand_qty",
                "in_transit_qty",
                "allocated_qty",
                "oldest_batch_date",
            ),
            required=("warehouse_id", "sku", "on_hand_qty"),
            delivery="daily",
            description="A warehouse x SKU at end of day.",
        ),
        Extract(
            name="promotions",
            columns=("sku", "start_date", "end_date", "discount_pct"),
            required=("sku", "start_date", "end_date"),
            delivery="snapshot",
            optional_extract=True,
            description="A promotion (full list, delivered when it changes).",
        ),
    )
}

FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def day_of_file(filename: str) -> date | None:
    """The day a landing file is for, from its name (<YYYY-MM-DD>.<suffix>), else None.

    Marker files (``2025-03-02.csv.done``) and anything else not ending in a data
    suffix are not data files: None. Only the extended form counts: Python's
    ``date.fromisoformat`` also reads ``20250302`` and ``2025-W09-7``, which the
    contract does not allow.
    """
    for suffix in FILE_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            if not _DAY_NAME.fullmatch(stem):
                return None
            try:
                return date.fromisoformat(stem)
            except ValueError:
                return None
    return None


_DAY_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
