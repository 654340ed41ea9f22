"""The raw layer's tables: one per extract of the input contract (restock.contract),
every contract column stored as VARCHAR exactly as delivered (staging casts), plus
lineage columns, so the raw layer is a faithful, replayable copy of the landing files;
and the load and quarantine ledgers.
"""

from __future__ import annotations

from restock.contract import EXTRACTS, LINEAGE_COLUMNS, Extract

RAW_SCHEMA = "raw"


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
# keeps the previous accepted rows of that day; a later accepted load (or a day run
# again without any file: the delivery was withdrawn) of the same extract and day sets
# released_at and release_note.
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
    released_at TIMESTAMP,            -- null while the day still waits for a good file
    release_note VARCHAR              -- why it was released (a file accepted, the delivery withdrawn)
)
"""


def create_raw_tables(con) -> None:
    """Create the raw schema and tables if missing (a duckdb connection)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for extract in EXTRACTS.values():
        con.execute(raw_table_ddl(extract))
    con.execute(LOADS_TABLE_DDL)
    con.execute(QUARANTINE_TABLE_DDL)
    # Warehouses made before release_note existed.
    con.execute(f"ALTER TABLE {QUARANTINE_TABLE} ADD COLUMN IF NOT EXISTS release_note VARCHAR")
