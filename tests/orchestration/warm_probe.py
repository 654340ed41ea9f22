"""A one-op code location for test_warm_worker.py (not a test module): the op records
the process it runs in and, while the file WARM_PROBE_HOLD exists, waits (to be
cancelled)."""

import json
import os
import sys
import time
from pathlib import Path

import dagster as dg


@dg.op
def probe(context: dg.OpExecutionContext) -> None:
    record = {
        "run_id": context.run_id,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        # imported by the warm process, never by this code location
        "great_expectations_loaded": "great_expectations" in sys.modules,
    }
    with Path(os.environ["WARM_PROBE_OUT"]).open("a") as out:
        out.write(json.dumps(record) + "\n")
    hold = os.environ.get("WARM_PROBE_HOLD")
    deadline = time.monotonic() + 120
    while hold and Path(hold).exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker, as Restock's steps do
def probe_job():
    probe()


defs = dg.Definitions(jobs=[probe_job])
