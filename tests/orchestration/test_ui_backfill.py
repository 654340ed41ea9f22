"""UI backfill (issue 12): the real dagster-webserver and dagster-daemon on 127.0.0.1,
a partition-range backfill launched through the webserver's GraphQL API exactly as
the UI's *Materialize -> partition range* does, and every warehouse and published
table compared with a CLI backfill (`python -m orchestration.cli backfill`) of the
same range on its own instance."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, timedelta

from dagster_processes import (
    daemon,
    differences,
    graphql,
    instance_home,
    pipeline_env,
    snapshot,
    webserver,
)

from restock.settings import PROJECT_ROOT

START, END = date(2024, 1, 1), date(2024, 1, 7)

ASSET_NODES = "{ assetNodes { assetKey { path } backfillPolicy { policyType } } }"
# The UI's LaunchAssetChoosePartitionsDialog: assets of the (hidden) asset job, the
# partition keys of the chosen range, not from failure, no extra tags.
LAUNCH_PARTITION_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status
      error { message }
      runs { runId status tags { key value } }
    }
    ... on Error { message }
  }
}
"""
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def test_a_ui_partition_range_backfill_equals_the_cli_backfill(landing_dir, tmp_path):
    ui_env = pipeline_env(landing_dir, tmp_path / "ui_data", instance_home(tmp_path / "ui_home"))
    cli_env = pipeline_env(landing_dir, tmp_path / "cli_data", instance_home(tmp_path / "cli_home"))
    days = [(START + timedelta(days=i)).isoformat() for i in range((END - START).days + 1)]

    with webserver(ui_env, tmp_path / "webserver.log") as port:
        nodes = graphql(port, ASSET_NODES)["assetNodes"]
        assert nodes and all(n["backfillPolicy"]["policyType"] == "SINGLE_RUN" for n in nodes)
        launched = graphql(
            port,
            LAUNCH_PARTITION_BACKFILL,
            {
                "backfillParams": {
                    "tags": [],
                    "assetSelection": [{"path": n["assetKey"]["path"]} for n in nodes],
                    "partitionNames": days,
                    "fromFailure": False,
                }
            },
        )["launchPartitionBackfill"]
        assert launched["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["backfillId"]

        # Meanwhile, the same range through the CLI on its own instance and data folder
        # (it starts its own daemon: none runs for that instance).
        cli = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "backfill", "--start", str(START), "--end", str(END)],
            cwd=PROJECT_ROOT,
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # The daemon turns the backfill into runs and dequeues them.
            with daemon(ui_env, tmp_path / "daemon.log"):
                deadline = time.monotonic() + 900
                while True:
                    backfill = graphql(port, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
                    if backfill["status"] in DONE:
                        break
                    assert time.monotonic() < deadline, f"backfill still {backfill['status']} after 900 s"
                    time.sleep(2)
            cli_output, _ = cli.communicate(timeout=900)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait()

    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    # Single-run backfill policy: one run for the whole range, the range in its tags.
    (run,) = backfill["runs"]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS"
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        days[0],
        days[-1],
    )
    assert cli.returncode == 0, cli_output[-4000:]
    assert f"backfill {START} .. {END}: done" in cli_output

    ui_tables, cli_tables = snapshot(tmp_path / "ui_data"), snapshot(tmp_path / "cli_data")
    assert len(ui_tables) > 30 and sum(len(t) for t in ui_tables.values()) > 1000
    assert not differences(ui_tables, cli_tables)
