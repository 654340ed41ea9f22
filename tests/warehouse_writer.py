"""The read-write connection a run in worker processes opens for each round
(``open_writer`` of :func:`restock.day_workers.run_in_workers`), for tests: a plain
DuckDB connection to ``path``, each opening recorded in ``opened``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import duckdb


def counting_writer(
    path: Path, opened: list | None = None
) -> Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]:
    @contextmanager
    def open_writer() -> Iterator[duckdb.DuckDBPyConnection]:
        if opened is not None:
            opened.append(path)
        con = duckdb.connect(str(path))
        try:
            yield con
        finally:
            con.close()

    return open_writer
