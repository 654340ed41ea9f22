"""Raw ingestion: one asset per extract, landing file -> validation gate -> raw.<extract>.

Each day of the window is checked by its Great Expectations suite and for
plausibility against the previous accepted snapshot (restock/ingest/plausibility.py)
*before* it is written (restock/ingest/gated.py). A rejected file is quarantined and
the day keeps its previous accepted rows, so dbt never reads it; the asset's blocking
check ``<extract>_contract`` then fails, which stops every downstream step of the run.
A file loaded earlier and since removed from the landing folder is withdrawn: the day
is run as if it had never arrived.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import RestockResource, WarehouseResource
from restock.contract import EXTRACTS

if TYPE_CHECKING:  # the readers (pyarrow) load with the first run, not with the code location
    from restock.ingest.gated_load import GatedLoad

MAX_DAYS_IN_METADATA = 60  # the UI stays readable; raw._loads / raw._quarantine have every day

# The masters an extract is checked against (known customer ids / skus of the snapshot
# in force that day) must be loaded first in the same run.
RAW_DEPS = {
    "orders": ("customers", "products"),
    "inventory": ("products",),
    "promotions": ("products",),
}


def check_name(extract_name: str) -> str:
    return f"{extract_name}_contract"


def build_raw_asset(extract_name: str) -> dg.AssetsDefinition:
    extract = EXTRACTS[extract_name]
    key = dg.AssetKey(["raw", extract_name])

    @dg.asset(
        key=key,
        group_name="raw",
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"duckdb"},
        deps=[dg.AssetKey(["raw", dep]) for dep in RAW_DEPS.get(extract_name, ())],
        check_specs=[
            dg.AssetCheckSpec(
                check_name(extract_name),
                asset=key,
                blocking=True,
                description=(
                    f"Every {extract_name} file of the window passes expectations/raw_{extract_name}.json "
                    "and the plausibility limits of restock.yaml quality.plausibility (checked before it "
                    "is written). A failing file is quarantined "
                    "(RESTOCK_DATA_DIR/quarantine, raw._quarantine), its day keeps the previous "
                    "accepted rows, and nothing downstream runs."
                ),
            )
        ],
        description=(
            f"{extract.description} Loaded from RESTOCK_LANDING_DIR/{extract_name}/<day>.csv|.csv.gz|.parquet "
            f"into raw.{extract_name} after its validation gate; a re-run replaces the day. "
            f"Delivery: {extract.delivery}."
        ),
    )
    def raw_extract(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
    ) -> Iterator[Any]:
        days = window_days(context)
        config = restock.config
        mapping, encs = config.extracts.column_mapping(extract_name), list(config.extracts.encodings)
        rules = config.quality
        today = restock.today()
        started = time.monotonic()
        from restock.ingest.gated import load_gated_days
        from restock.progress import Progress

        results: list[GatedLoad] = []
        window, loaded, quarantined = set(days), 0, 0
        progress = Progress(f"raw.{extract_name}", len(days), context.log.info)
        with warehouse.connect() as con:
            gated = load_gated_days(
                con,
                restock.landing,
                restock.data,
                extract_name,
                days,
                mapping=mapping,
                encodings=encs,
                rules=rules,
                today=today,
            )
            for result in gated:
                results.append(result)
                if not result.passed:
                    context.log.error(
                        f"raw.{extract_name} {result.day}: QUARANTINED, the day keeps its previous rows "
                        f"(copy: {result.quarantine_file})\n{result.message()}"
                    )
                for note in result.notes:
                    context.log.warning(f"raw.{extract_name} {result.day}: {note}")
                for note in result.info:
                    context.log.info(f"raw.{extract_name} {result.day}: {note}")
                if result.released:
                    context.log.info(
                        f"raw.{extract_name} {result.day}: released {result.released} quarantined delivery"
                    )
                if result.day in window:
                    loaded += result.row_count if result.status == "loaded" else 0
                    quarantined += not result.passed
                    note = f", {quarantined} quarantined" if quarantined else ""
                    progress.advance(through=result.day, detail=f"gated and loaded, {loaded:,} rows{note}")
        seconds = round(time.monotonic() - started, 2)
        yield dg.MaterializeResult(metadata=_materialization_metadata(results, len(days), seconds))
        yield _check_result(extract_name, results, len(days), restock.data_docs_dir)
        quarantined = [r for r in results if not r.passed]
        if quarantined:
            context.log.error(
                f"raw.{extract_name}: {len(quarantined)} file(s) quarantined, check {check_name(extract_name)} "
                f"fails: " + "; ".join(f"{r.day} {r.source_file}" for r in quarantined[:20])
            )

    return raw_extract


def _materialization_metadata(results: "list[GatedLoad]", n_days: int, seconds: float) -> dict[str, Any]:
    loaded = [r for r in results if r.status == "loaded"]
    quarantined = [r for r in results if r.status == "quarantined"]
    metadata = {
        "days": n_days,
        "days_loaded": len(loaded),
        "days_without_delivery": sum(1 for r in results if r.status == "no_delivery"),
        "days_quarantined": len(quarantined),
        "row_count": sum(r.row_count for r in loaded),
        "seconds": seconds,
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
                for r in results[-MAX_DAYS_IN_METADATA:]
            )
        )
    return metadata


def _check_result(
    extract_name: str, results: "list[GatedLoad]", n_days: int, data_docs_dir: Path
) -> dg.AssetCheckResult:
    quarantined = [r for r in results if not r.passed]
    validated = [r for r in results if r.gate is not None]
    warned = [r for r in results if r.warnings]
    metadata: dict[str, Any] = {
        "days": n_days,
        "files_validated": len(validated),
        "rows_validated": sum(r.gate.row_count for r in validated),
        "days_quarantined": len(quarantined),
        "warnings": sum(r.warnings for r in results),
    }
    docs = [r.data_docs_path for r in (quarantined or results) if r.data_docs_path is not None]
    if docs:
        metadata["data_docs"] = dg.MetadataValue.path(str(docs[0]))
        metadata["data_docs_url"] = dg.MetadataValue.url(docs[0].resolve().as_uri())
    elif (index := data_docs_dir / "index.html").exists():
        metadata["data_docs"] = dg.MetadataValue.path(str(index))
    if quarantined:
        first = quarantined[0]
        metadata.update(
            quarantined=dg.MetadataValue.md(
                "| day | file | quarantined copy | failing |\n|---|---|---|---|\n"
                + "\n".join(
                    f"| {r.day} | {r.source_file} | {r.quarantine_file} | "
                    f"{', '.join(sorted({str(f.get('column') or f['type']) for f in r.failed_expectations()}))} |"
                    for r in quarantined[:MAX_DAYS_IN_METADATA]
                )
            ),
            source_file=first.source_file or "",
            quarantine_file=dg.MetadataValue.path(str(first.quarantine_file)),
            failed_expectations=dg.MetadataValue.json(first.failed_expectations()),
            message=dg.MetadataValue.md(
                "\n\n".join(f"```\n{r.message()}\n```" for r in quarantined[:MAX_DAYS_IN_METADATA])
            ),
        )
        if len(docs) > 1:
            metadata["data_docs_pages"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in docs[:MAX_DAYS_IN_METADATA]))
    if warned:
        metadata["warning_details"] = dg.MetadataValue.md(
            "\n\n".join(
                f"```\n{r.day}:\n"
                + "\n".join([w.describe() for w in (r.gate.warnings if r.gate is not None else ())] + list(r.notes))
                + "\n```"
                for r in warned[:MAX_DAYS_IN_METADATA]
            )
        )
    description = (
        f"{len(quarantined)} of {n_days} day(s) quarantined: "
        + "; ".join(f"{r.day} {r.source_file}" for r in quarantined[:5])
        if quarantined
        else f"{len(validated)} file(s) passed raw_{extract_name}"
    )
    return dg.AssetCheckResult(
        check_name=check_name(extract_name),
        passed=not quarantined,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=description,
    )


raw_assets = [build_raw_asset(name) for name in EXTRACTS]
