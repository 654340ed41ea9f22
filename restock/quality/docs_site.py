"""What a Data Docs site remembers across processes, and for how long.

GE 1.24's index builder lists the validation pages whose result is in the site's
validation-results store and deletes the other pages (``skip_and_clean_missing``).
Restock's GE context is ephemeral (in memory, one per process; each Dagster run is a
new process), so a site's index would list, and its folder keep, the validations of
the current process only, and a Data Docs link kept in an earlier check's metadata or
a quarantine reason would point at a deleted page. So each site has GE's own
filesystem ``ValidationResultsStore`` under it (``<docs>/results/``, the pages' paths
with ``.json``): a validation's full result while its page is rendered, then only its
index record (``index_record``: what GE's index shows, about 1 KB instead of ~40 KB,
which GE reads back for every row of the index on each build).

How long: ``prune`` (before each build) drops the pages and records of validations
older than ``KEEP_DAYS`` and those beyond the newest ``KEEP_MAX``, so the folder and
the cost of a build stay bounded (plain file operations on GE's layout; GE is imported by
``index_record`` only, when called).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RESULTS = "results"  # under the site's root: GE's validation-results store of the site
PAGES = "validations"  # under the site's root: GE's validation pages
# Housekeeping, not a business rule of the checks: a gate's page is read within days
# (its link sits in the check's metadata and the quarantine reason); 90 days keep a
# quarter of history (a daily run of the five raw gates writes ~5 pages a day: ~450).
# The cap bounds a build's cost after a backfill with many failing days: GE re-renders
# every row of the index on each build, ~1 ms per validation kept.
KEEP_DAYS = 90
KEEP_MAX = 500
_RUN_TIME = "%Y%m%dT%H%M%S.%fZ"  # GE's RunIdentifier.to_tuple(): the folder of a run's time


def store_config(docs_dir: Path) -> dict[str, Any]:
    """GE's config of the site's validation-results store."""
    return {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(Path(docs_dir) / RESULTS)},
    }


def site_config(docs_dir: Path, store_name: str) -> dict[str, Any]:
    """GE's config of the site: pages built from, and indexed from, ``store_name``."""
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "site_section_builders": {
            "validations": {"source_store_name": store_name},
            # Restock never profiles: no profiling section (one walk of the store less).
            "profiling": "None",
        },
    }


def index_record(result: Any) -> Any:
    """``result`` (an ``ExpectationSuiteValidationResult``) without its per-expectation
    results: what GE's index reads (suite, run, time, success, asset, statistics)."""
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResult

    return ExpectationSuiteValidationResult(
        success=result.success,
        results=[],
        suite_name=result.suite_name,
        suite_parameters=result.suite_parameters,
        statistics=result.statistics,
        meta=result.meta,
        batch_id=result.batch_id,
        id=result.id,
    )


@dataclass
class Pruned:
    kept: int = 0
    removed: list[Path] = field(default_factory=list)  # the records dropped (their pages too)


def prune(docs_dir: Path, now: datetime | None = None, keep_days: int = KEEP_DAYS, keep_max: int = KEEP_MAX) -> Pruned:
    """Drop the validations of the site at ``docs_dir`` older than ``keep_days`` before
    ``now`` or beyond the newest ``keep_max``: each one's page, then its record, then
    the folders left empty. A validation's time is GE's (its run's folder name). A file
    another process removed first is skipped; another error is logged, not raised
    (housekeeping never fails a gate)."""
    docs_dir = Path(docs_dir)
    results = docs_dir / RESULTS
    now = now or datetime.now(UTC)
    found: list[tuple[datetime, Path]] = []
    for root, _dirs, files in os.walk(results):
        for name in files:
            if not name.endswith(".json"):
                continue
            try:
                when = datetime.strptime(Path(root).name, _RUN_TIME).replace(tzinfo=UTC)
            except ValueError:
                continue  # not a validation's record
            found.append((when, Path(root) / name))
    found.sort(reverse=True)  # newest first
    cutoff = now - timedelta(days=keep_days)
    out = Pruned()
    for i, (when, record) in enumerate(found):
        if i < keep_max and when >= cutoff:
            out.kept += 1
            continue
        relative = record.relative_to(results).as_posix().removesuffix(".json")
        page = docs_dir / PAGES / f"{relative}.html"
        try:
            # The page first: a build meanwhile never lists a page whose record is gone.
            _remove(page, docs_dir / PAGES)
            _remove(record, results)
        except OSError as exc:
            log.warning("Data Docs: could not remove the expired validation %s: %s", relative, exc)
            continue
        out.removed.append(record)
    return out


def _remove(path: Path, root: Path) -> None:
    """``path`` gone (if there), then its folders up to ``root`` while empty."""
    path.unlink(missing_ok=True)
    folder = path.parent
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except FileNotFoundError:
            pass
        except OSError:  # not empty
            return
        folder = folder.parent
