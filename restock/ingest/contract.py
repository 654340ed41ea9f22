"""The input contract (design.md, "Input contract: the landing folder") as data.

One ``Extract`` per landing sub-folder. The raw warehouse tables mirror it: every
contract column is stored as VARCHAR exactly as delivered (staging casts), plus
lineage columns, so the raw layer is a faithful, replayable copy of the landing files.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_SCHEMA = "raw"

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
                "customer_id", "customer_name", "channel", "region", "tier", "status",
                "opened_on", "closed_on", "order_weekday",
            ),
            required=("customer_id", "status"),
            delivery="snapshot",
            description="A customer, full snapshot as of that day.",
        ),
        Extract(
            name="orders",
            columns=(
                "order_id", "line_no", "customer_id", "sku", "order_date", "quantity",
                "requested_quantity", "unit_price", "amount", "status",
            ),
            required=("order_id", "line_no", "customer_id", "sku", "order_date", "quantity", "status"),
            delivery="daily",
            description="An order line created that day.",
        ),
        Extract(
            name="products",
            columns=(
                "sku", "product_name", "brand", "category", "price_band", "unit",
                "units_per_case", "unit_cost", "list_price", "lead_time_days",
                "lead_time_std_days", "moq_cases", "shelf_life_days", "status", "launched_on",
            ),
            required=("sku", "lead_time_days"),
            delivery="snapshot",
            description="A SKU, full snapshot.",
        ),
        Extract(
            name="inventory",
            columns=(
                "warehouse_id", "sku", "on_hand_qty", "in_transit_qty", "allocated_qty",
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


def raw_table_ddl(extract: Extract) -> str:
    cols = [f'"{c}" VARCHAR' for c in extract.columns]
    cols += [f'"{c}" {t}' for c, t in LINEAGE_COLUMNS.items()]
    return f'CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}."{extract.name}" ({", ".join(cols)})'


LOADS_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}._loads (
    extract VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    status VARCHAR NOT NULL,          -- loaded / no_delivery
    source_file VARCHAR,
    checksum_sha256 VARCHAR,
    row_count INTEGER NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (extract, partition_date)
)
"""


# Delivered files the validation gate rejected (restock/ingest/gated.py). The raw table
# keeps the previous accepted rows of that day; a later accepted load (or a settled
# day without delivery) of the same extract and day sets released_at.
QUARANTINE_TABLE = f"{RAW_SCHEMA}._quarantine"
QUARANTINE_TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    extract VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,     -- the landing file as delivered
    checksum_sha256 VARCHAR NOT NULL, -- of the quarantined bytes
    quarantine_file VARCHAR NOT NULL, -- byte-for-byte copy under RESTOCK_DATA_DIR/quarantine
    quarantined_at TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL,          -- the gate's message (or why the file cannot be read)
    failed_expectations VARCHAR NOT NULL,  -- JSON list: type, column, counts, sample rows
    released_at TIMESTAMP             -- null while the day still waits for a good file
)
"""


def create_raw_tables(con) -> None:
    """Create the raw schema and tables if missing (a duckdb connection)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for extract in EXTRACTS.values():
        con.execute(raw_table_ddl(extract))
    con.execute(LOADS_TABLE_DDL)
    con.execute(QUARANTINE_TABLE_DDL)
