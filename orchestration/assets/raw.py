"""Raw ingestion: one asset per extract, landing file -> raw.<extract> (idempotent per day)."""


import time

import dagster as dg

from orchestration.environment import CONFIG, SETTINGS
from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import WarehouseResource
from restock.config import column_mapping, encodings
from restock.ingest.contract import EXTRACTS
from restock.ingest.loader import load_days

PROGRESS_EVERY_DAYS = 30


def build_raw_asset(extract_name: str) -> dg.AssetsDefinition:
    extract = EXTRACTS[extract_name]

    @dg.asset(
        key=["raw", extract_name],
        group_name="raw",
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb"},
        description=(
            f"{extract.description} Loaded from RESTOCK_LANDING_DIR/{extract_name}/<day>.csv|.csv.gz|.parquet "
            f"into raw.{extract_name}; a re-run replaces the day. Delivery: {extract.delivery}."
        ),
    )
    def raw_extract(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        days = window_days(context)
        mapping, encs = column_mapping(CONFIG, extract_name), encodings(CONFIG)
        started = time.monotonic()
        results = []
        with warehouse.connect() as con:
            for i, result in enumerate(load_days(con, SETTINGS.landing_dir, extract_name, days, mapping, encs), 1):
                results.append(result)
                if i % PROGRESS_EVERY_DAYS == 0 or i == len(days):
                    context.log.info(f"raw.{extract_name}: {i}/{len(days)} days loaded (through {result.day})")
        loaded = [r for r in results if r.status == "loaded"]
        metadata = {
            "days": len(days),
            "days_loaded": len(loaded),
            "days_without_delivery": len(results) - len(loaded),
            "row_count": sum(r.row_count for r in results),
            "seconds": round(time.monotonic() - started, 2),
        }
        if len(results) == 1:
            only = results[0]
            metadata.update(
                source_file=only.source_file or "(none: no delivery this day)",
                checksum_sha256=only.checksum_sha256 or "",
                encoding=only.encoding or "",
                snapshot_in_force=str(only.snapshot_in_force or ""),
            )
        else:
            metadata["source_files"] = dg.MetadataValue.md(
                "| day | status | rows | file | sha256 |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {r.day} | {r.status} | {r.row_count} | {r.source_file or ''} | {(r.checksum_sha256 or '')[:12]} |"
                    for r in results[-60:]  # the UI table stays readable; raw._loads has every day
                )
            )
        return dg.MaterializeResult(metadata=metadata)

    return raw_extract


raw_assets = [build_raw_asset(name) for name in EXTRACTS]
