"""The packages of restock/ import only downward, and none of them knows Dagster.

Ground floor: the input contract, settings, configuration, calendar, table registry
and warehouse helpers, progress lines, the process pool and the days of a long run
built in it. Above it the generic gate runner (quality), then ingest and
segmentation, forecasting, replenishment, publishing. A lower package importing a
higher one (quality -> ingest, segmentation -> forecasting, config -> ingest) is
the kind of tangle this test keeps out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from restock.settings import PROJECT_ROOT

GROUND = {
    "contract",
    "settings",
    "config",
    "calendar",
    "table_registry",
    "warehouse",
    "progress",
    "worker_pool",
    "day_workers",
}
ALLOWED: dict[str, set[str]] = {
    "contract": set(),
    "settings": set(),
    "config": {"contract"},
    "calendar": set(),
    "table_registry": set(),
    "warehouse": set(),
    "progress": set(),
    "worker_pool": set(),
    "day_workers": {"config", "warehouse", "worker_pool"},
    "quality": GROUND,
    "ingest": GROUND | {"quality"},
    "segmentation": GROUND,
    "forecasting": GROUND | {"segmentation"},
    "replenishment": GROUND | {"segmentation", "forecasting"},
    "performance": GROUND | {"replenishment"},
    "charts": set(),  # matplotlib figures as SVG/PNG, from pandas frames (the daily report)
    "publish": GROUND | {"quality", "charts"},
    "demo": GROUND,
    "report": GROUND | {"publish"},
    "alerts": GROUND,
    "asset_charts": GROUND | {"charts", "publish"},  # Markdown + PNG of the Dagster asset pages
}


def _unit(path: Path) -> str:
    """restock/<unit>/... or restock/<unit>.py -> unit."""
    parts = path.relative_to(PROJECT_ROOT / "restock").parts
    return parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """Top-level modules and restock units imported anywhere in the file (also lazily)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.add(parts[0] if parts[0] != "restock" or len(parts) == 1 else f"restock.{parts[1]}")
    return found


MODULES = sorted(p for p in (PROJECT_ROOT / "restock").rglob("*.py") if p.name != "__main__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_restock_imports_only_downward_and_never_dagster(path: Path):
    unit = _unit(path)
    if unit == "__init__":
        return
    imported = _imports(path)
    assert not {"dagster", "dagster_dbt", "orchestration"} & imported, "domain code has no Dagster import"
    units = {name.split(".", 1)[1] for name in imported if name.startswith("restock.")}
    units.discard(unit)
    assert unit in ALLOWED, f"{unit}: add the new package to ALLOWED with the layers it may use"
    assert units <= ALLOWED[unit], f"{unit} imports {sorted(units - ALLOWED[unit])} (a higher layer)"
