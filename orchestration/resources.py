"""Dagster resources built from the environment (see restock.settings)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from restock.warehouse import connect


class WarehouseResource(dg.ConfigurableResource):
    """The working DuckDB warehouse file (raw layer + dbt models)."""

    path: str

    @contextmanager
    def connect(self):
        con = connect(Path(self.path))
        try:
            yield con
        finally:
            con.close()
