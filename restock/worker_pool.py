"""The process pool of the parallel steps: the forecast fits of an origin
(:func:`restock.forecasting.panel.forecast_panel`) and the days of a long run
(:mod:`restock.day_workers`)."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    """A process pool of ``workers`` processes (None for one worker). Spawned, not
    forked: the parent holds a DuckDB connection and Dagster threads."""
    import multiprocessing

    if workers <= 1:
        return None
    # One BLAS thread per worker: the pool already uses every core. Set here, in the
    # parent, because a spawned child inherits the environment and loads numpy (and
    # its BLAS threads) before any initializer runs. The parent has loaded numpy
    # (pandas) before it starts a pool, so its own BLAS keeps its threads. A value the
    # user set is kept.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )


def _watch_parent(parent: int) -> None:
    # A worker holds both ends of its job queue, so it never sees a killed parent (a
    # SIGKILLed run): it would idle for ever. It leaves once its parent is gone (the
    # parent's pid is passed in: it may die before this runs).
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)
