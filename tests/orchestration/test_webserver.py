"""The Dagster webserver serves one asset graph from the raw extracts through the marts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

QUERY = "{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_webserver_shows_the_asset_graph(pipeline, tmp_path):
    port = _free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, data = time.monotonic() + 120, None
        while time.monotonic() < deadline and data is None:
            if proc.poll() is not None:
                raise AssertionError(f"webserver exited: {proc.stdout.read().decode()[-3000:]}")
            try:
                data = _graphql(port, QUERY)["data"]
            except OSError:
                time.sleep(1)
        assert data is not None, "webserver did not answer within 120 s"
        nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
        assert nodes["raw/orders"]["groupName"] == "raw"
        assert nodes["marts/customer_sku_weekly_demand"]["groupName"] == "marts"

        def upstream(key, seen=None):
            seen = set() if seen is None else seen
            for dep in nodes[key]["dependencyKeys"]:
                name = "/".join(dep["path"])
                if name not in seen:
                    seen.add(name)
                    upstream(name, seen)
            return seen

        # One graph: the weekly demand mart traces back to the raw orders and customers.
        assert {"raw/orders", "raw/customers"} <= upstream("marts/customer_sku_weekly_demand")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
