"""Dagster resources: where the files are and the business rules, handed to every asset.

Built from a :class:`restock.settings.Settings` by :func:`build_resources`; tests
pass other folders or another restock.yaml with ``resources=...`` instead of setting
the environment before an import. The config file is read and validated on first
use in a run (never when the code location loads) and cached per process.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

from restock.settings import POSTGRES_URL_VARIABLE, Settings

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from restock.config import RestockConfig

# How long a step waits for the warehouse file while another process holds it. After
# a killed run, that is usually the run's dbt: it is left running and stops at its
# next log line (the run process that read its output is gone), i.e. once the model
# it is building is done. Longer than restock.warehouse's default for that reason.
WAREHOUSE_LOCK_WAIT_SECONDS = 300.0


def open_warehouse(
    path: Path, wait_seconds: float = WAREHOUSE_LOCK_WAIT_SECONDS, memory_limit: str | None = None
) -> DuckDBPyConnection:
    """The warehouse, read-write; while another process holds it, wait (up to
    ``wait_seconds``) and say so in the run's log."""
    import duckdb

    from restock.warehouse import connect

    try:
        return connect(path, wait_seconds=0, memory_limit=memory_limit)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        held = re.search(r"lock is held in (.+?\(PID \d+\))", str(error))
        holder = f"held by {held[1]}" if held else str(error).strip().splitlines()[0]
    log = dg.get_dagster_logger()
    log.warning(
        f"the warehouse {path} is in use by another process ({holder}); waiting up to {wait_seconds:.0f} s "
        "for it. After a killed run this is usually its dbt, finishing the model it was building."
    )
    waited = time.monotonic()
    con = connect(path, wait_seconds=wait_seconds, memory_limit=memory_limit)
    log.info(f"the warehouse {path} is free after {time.monotonic() - waited:.1f} s")
    return con


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse file (raw layer, dbt models, analytics)."""

    path: str
    # DuckDB's memory limit (RESTOCK_DUCKDB_MEMORY_LIMIT); None: DuckDB's default
    memory_limit: str | None = None

    @contextmanager
    def connect(self) -> Iterator[DuckDBPyConnection]:
        con = open_warehouse(Path(self.path), memory_limit=self.memory_limit)
        try:
            yield con
        finally:
            con.close()


class WarehouseDbtCliResource(DbtCliResource):
    """dbt, started once the warehouse is free: dbt-duckdb fails at once on a warehouse
    another process holds (e.g. the dbt of a killed run, still finishing).

    Two start-up costs of dagster-dbt's own resource are skipped, ~3 s of every dbt
    step (a daily run's dbt step is ~15 s): the ``dbt --version`` subprocess it runs to
    learn the version (2 s: a whole interpreter start) is read from the installed
    dbt-core package when the executable is the one next to this interpreter; and the
    dbt adapter it builds in the run process (1.2 s: imports dbt and loads its macros)
    serves only column metadata and row counts (``fetch_column_metadata``,
    ``fetch_row_counts``), which Restock does not ask for."""

    warehouse_path: str

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        open_warehouse(Path(self.warehouse_path)).close()
        return super().cli(args, **kwargs)

    @functools.cached_property
    def _cli_version(self) -> Any:
        if Path(self.dbt_executable) == Path(dbt_executable()) and Path(self.dbt_executable).is_absolute():
            from importlib.metadata import version as package_version

            from packaging.version import parse

            return parse(package_version("dbt-core"))
        return DbtCliResource._cli_version.func(self)  # type: ignore[attr-defined]

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


class RestockResource(dg.ConfigurableResource):
    """Folders, time zone, the PostgreSQL target and the business rules (restock.yaml)."""

    landing_dir: str
    data_dir: str
    config_path: str
    timezone: str = "Asia/Shanghai"
    # Through dg.EnvVar in the deployment, so the URL (a password) is never stored
    # in run configuration or shown in the UI.
    postgres_url: str | None = None
    postgres_schema: str = "restock"

    @property
    def config(self) -> RestockConfig:
        path = Path(self.config_path)
        # Keyed by the file's mtime: the code server (sensor, schedule) lives for days
        # and must see an edited restock.yaml; runs are new processes anyway.
        return _load_config(path, path.stat().st_mtime_ns if path.exists() else 0)

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def data(self) -> Path:
        return Path(self.data_dir)

    @property
    def data_docs_dir(self) -> Path:
        return self.data / "quality" / "docs"

    def today(self) -> date:
        """Today in the partitions' time zone (nothing may be dated after it)."""
        return datetime.now(ZoneInfo(self.timezone)).date()


@functools.lru_cache(maxsize=8)
def _load_config(path: Path, mtime_ns: int) -> RestockConfig:
    from restock.config import load_config

    return load_config(path)


def dbt_executable() -> str:
    # The dbt next to this interpreter (the project venv), so nothing depends on PATH.
    venv_dbt = Path(sys.executable).parent / "dbt"
    return str(venv_dbt) if venv_dbt.exists() else "dbt"


def build_resources(settings: Settings) -> dict[str, Any]:
    from orchestration.assets.dbt import DBT_PROJECT_DIR, dbt_project

    postgres_url: Any = dg.EnvVar(POSTGRES_URL_VARIABLE) if settings.postgres_url else None
    return {
        "warehouse": WarehouseResource(path=str(settings.warehouse_path), memory_limit=settings.duckdb_memory_limit),
        "restock": RestockResource(
            landing_dir=str(settings.landing_dir),
            data_dir=str(settings.data_dir),
            config_path=str(settings.config_path),
            timezone=settings.timezone,
            postgres_url=postgres_url,
            postgres_schema=settings.postgres_schema,
        ),
        "dbt": WarehouseDbtCliResource(
            project_dir=str(dbt_project().project_dir),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
            warehouse_path=str(settings.warehouse_path),
        ),
    }
