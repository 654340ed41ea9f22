"""Charts on the asset pages (restock/asset_charts.py, orchestration/assets/charts.py):
the tiny pipeline materialized through a real Dagster instance, its chart metadata
checked against the warehouse, then the real `dagster-webserver` on that instance and
each asset's page opened in headless Chromium (no network besides the webserver): every
chart's "[Show Markdown]" dialog shows its PNG data-URI images, loaded, with no console
error about them."""

from __future__ import annotations

import base64
import dataclasses
import re
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster_processes import instance_home, open_instance, pipeline_env, webserver

from restock.asset_charts import AT_RISK_SKUS
from restock.publish.daily_report import fmt_number
from tests.browser import report_browser
from tests.orchestration.conftest import tiny_settings

FIRST, LAST = "2024-01-01", "2024-01-14"  # two forecast origins (01-07, 01-14): the second reviews the first
# asset -> metadata key -> PNGs in its Markdown
CHARTS: dict[tuple[str, ...], dict[str, int]] = {
    ("forecasting", "demand_forecasts"): {"chart_forecast_total": 1, "chart_forecast_top_skus": 3},
    ("forecasting", "forecast_accuracy"): {"chart_tracking_signal_skus": 1, "chart_tracking_signal_trend": 1},
    ("replenishment", "replenishment_plan"): {"chart_at_risk_skus": 2},
    ("performance", "kpis"): {"chart_fill_rate_trend": 1, "chart_stock_trend": 1},
}
MAX_PNG = 60_000
CHROMIUM = shutil.which("chromium")
PNG = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(scope="module")
def materialized(landing_dir, tmp_path_factory):
    """Every asset but the published tables, FIRST .. LAST as one run, on an instance of
    the shipped dagster.yaml: (root, metadata of the charted assets, settings)."""
    from orchestration.definitions import build_definitions

    root = tmp_path_factory.mktemp("asset_charts")
    settings = dataclasses.replace(tiny_settings(landing_dir, root / "data"), postgres_url=None)
    defs = build_definitions(settings)
    keys = [k for k in defs.resolve_asset_graph().get_all_asset_keys() if k.path[0] != "published"]
    job = defs.resolve_job_def("restock_daily")
    with open_instance(instance_home(root / "home")) as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=keys,
            tags={ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: LAST},
        )
        assert result.success
        metadata = {}
        for key in CHARTS:
            event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
            assert event is not None and event.asset_materialization is not None
            metadata[key] = event.asset_materialization.metadata
        logs = [
            e.message
            for e in instance.all_logs(result.run_id)
            if e.message and re.search(r"chart\(s\) of |chart \w+ left out", e.message)
        ]
    return root, metadata, settings, logs


def _tables(text: str) -> list[list[list[str]]]:
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().split("|")[1:-1]]
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def test_each_charted_asset_carries_its_charts_as_markdown_with_small_pngs(materialized):
    _, metadata, settings, logs = materialized
    for key, charts in CHARTS.items():
        for label, count in charts.items():
            value = metadata[key][label]
            assert isinstance(value, dg.MarkdownMetadataValue), (key, label)
            pngs = [base64.b64decode(p) for p in PNG.findall(value.md_str)]
            assert len(pngs) == count, (key, label)
            assert all(p.startswith(b"\x89PNG") and 5_000 < len(p) <= MAX_PNG for p in pngs), [len(p) for p in pngs]
            assert _tables(value.md_str), (key, label)
    # the run logged each asset's charts (and no chart left out)
    assert len([m for m in logs if "chart(s) of 2024-01-14" in m]) == 4 and not [m for m in logs if "left out" in m]

    # the numbers are the warehouse's rows of the last day of the run
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        plan = con.execute(
            "select warehouse_id, sku, on_hand_qty, inventory_position, days_of_supply "
            "from analytics.replenishment_plan where as_of_date = ? and is_active and daily_demand_mean > 0 "
            "order by days_of_supply, warehouse_id, sku limit ?",
            [LAST, AT_RISK_SKUS],
        ).fetchall()
        weekly = dict(
            con.execute(
                "select week_start::varchar, sum(requested_qty) from marts.customer_sku_weekly_demand "
                "where week_start <= '2024-01-08' group by 1"
            ).fetchall()
        )
        forecast = con.execute(
            "select period_start::varchar, forecast_qty from analytics.demand_forecasts "
            "where as_of_date = ? and level = 'total' order by period_start",
            [LAST],
        ).fetchall()
    finally:
        con.close()
    (table,) = _tables(metadata[("replenishment", "replenishment_plan")]["chart_at_risk_skus"].md_str)
    assert plan and [(r[0], r[1], r[3], r[5], r[11]) for r in table[1:]] == [
        (w, s, fmt_number(o), fmt_number(p), fmt_number(d, 1)) for w, s, o, p, d in plan
    ]
    (table,) = _tables(metadata[("forecasting", "demand_forecasts")]["chart_forecast_total"].md_str)
    rows = {r[0]: r for r in table[1:]}
    assert {w: rows[w][1] for w in weekly} == {w: fmt_number(q) for w, q in weekly.items()}
    assert forecast and [rows[w][3] for w, _ in forecast] == [fmt_number(q) for _, q in forecast]


def test_a_chart_failure_is_a_warning_not_a_failed_asset(capfd):
    from orchestration.assets.charts import chart_metadata

    def broken(con: Any, day: Any, config: Any, warn: Any) -> dict[str, str]:
        raise RuntimeError("no font")

    def fine(con: Any, day: Any, config: Any, warn: Any) -> dict[str, str]:
        return {"chart_x": "**x**"}

    day = date(2024, 1, 14)
    with dg.build_asset_context() as context:
        assert chart_metadata(context, broken, None, day, None) == {}  # type: ignore[arg-type]
        assert (
            "WARNING" in (err := capfd.readouterr().err)
            and "charts of 2024-01-14 left out: RuntimeError: no font" in err
        )
        assert chart_metadata(context, fine, None, day, None) == {"chart_x": dg.MetadataValue.md("**x**")}  # type: ignore[arg-type]


# ------------------------------------------------------------------ the real UI


def _chromium_class() -> Any:
    return report_browser().Chromium


def _wait(check, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)


OPEN_DIALOG_JS = """(label => {
  const row = [...document.querySelectorAll('tr')].find(r => r.querySelector('td')?.textContent.trim() === label);
  const link = row && [...row.querySelectorAll('a')].find(a => a.textContent.includes('Show Markdown'));
  if (link) link.click();
  return !!link;
})(%r)"""
DIALOG_IMAGES_JS = """(label => {
  const dialog = [...document.querySelectorAll('.bp5-dialog')].find(d => d.innerText.trim().startsWith(label));
  if (!dialog) return null;
  return [...dialog.querySelectorAll('img')].map(i => ({
    data: i.src.startsWith('data:image/png;base64,'), complete: i.complete, width: i.naturalWidth,
    height: i.naturalHeight, shown: i.getBoundingClientRect().width, alt: i.alt}));
})(%r)"""
CLOSE_DIALOG_JS = """(label => {
  const dialog = [...document.querySelectorAll('.bp5-dialog')].find(d => d.innerText.trim().startsWith(label));
  const close = dialog && [...dialog.querySelectorAll('button')].find(b => b.textContent.trim() === 'Close');
  if (close) close.click();
  return !!close;
})(%r)"""
DIALOG_OPEN_JS = """(label => [...document.querySelectorAll('.bp5-dialog')]
  .some(d => d.innerText.trim().startsWith(label)))(%r)"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
)
def test_the_asset_pages_show_the_chart_images_in_the_real_ui(materialized, landing_dir):
    root, metadata, settings, _ = materialized
    env = pipeline_env(landing_dir, settings.data_dir, root / "home")
    seen: dict[str, list[dict]] = {}
    with webserver(env, root / "webserver.log") as port, tempfile.TemporaryDirectory(prefix="ui-charts-") as profile:
        assert CHROMIUM is not None
        browser = _chromium_class()(CHROMIUM, Path(profile), reachable=("127.0.0.1",))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                browser.send(f"{domain}.enable", session=session)
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )

            def evaluate(expression: str) -> Any:
                reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
                return reply["result"].get("value")

            for key, charts in CHARTS.items():
                # the asset page of Dagster 1.13: /assets/<path> (assetDetailsPathForKey), Overview tab
                browser.send("Page.navigate", {"url": f"http://127.0.0.1:{port}/assets/{'/'.join(key)}"}, session)
                for label, count in charts.items():
                    _wait(lambda label=label: evaluate(OPEN_DIALOG_JS % label), 90, f"{key} {label} on the page")
                    images = _wait(
                        lambda label=label, count=count: (
                            (found := evaluate(DIALOG_IMAGES_JS % label))
                            and len(found) == count
                            and all(i["complete"] for i in found)
                            and found
                        ),
                        30,
                        f"{key} {label}: {count} loaded images in the dialog",
                    )
                    seen[label] = images
                    assert evaluate(CLOSE_DIALOG_JS % label)
                    _wait(lambda label=label: not evaluate(DIALOG_OPEN_JS % label), 10, f"{label} dialog closed")
        finally:
            browser.close()

    expected = {
        label: [base64.b64decode(p) for p in PNG.findall(metadata[key][label].md_str)]
        for key, charts in CHARTS.items()
        for label in charts
    }
    assert set(seen) == set(expected)
    for label, images in seen.items():
        for image, png in zip(images, expected[label], strict=True):
            # the data URI survived the UI's Markdown sanitizer and decoded to the PNG we wrote
            width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
            assert image["data"] and (image["width"], image["height"]) == (width, height), (label, image)
            assert image["shown"] > 300, (label, image)  # drawn, not collapsed

    # no console error, CSP report or failed load about the images
    urls, problems = {}, []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            urls[params.get("requestId")] = params.get("request", {}).get("url", "")
        elif method == "Network.loadingFailed" and urls.get(params.get("requestId"), "").startswith("data:"):
            problems.append(f"loading failed: {params.get('errorText')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            problems.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            problems.append(f"{params['entry'].get('text', '')} {params['entry'].get('url', '')}")
    about_images = [
        t[:300] for t in problems if re.search(r"data:image|img-src|Content Security Policy|loading failed", t)
    ]
    assert not about_images, about_images
