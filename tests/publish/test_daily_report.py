"""The daily HTML report (restock.publish.daily_report) written by gated publishing: a
real warehouse file (the hand-made day set of test_gated_publish, with weekly demand,
level forecasts, a rationed SKU, purchase orders and KPI values added), real gates,
real Parquet and serving.duckdb, and the page opened by a real headless Chromium with
the network cut off (scripts/report_browser.py)."""

import json
import logging
import re
import shutil
import subprocess
import sys
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from restock.config import load_config
from restock.publish import published_days, serving_path
from restock.publish.daily_report import LABELS, render_report, replay_sentence
from restock.publish.gated_publish import publish_days
from restock.publish.paths import REPORT_LATEST, report_dir, report_path
from restock.settings import PROJECT_ROOT
from tests.publish.test_gated_publish import D1, D2, D3, ORIGIN, _build_warehouse

WEEK_BEFORE = D2 - timedelta(days=7)  # KPI rows of this day are only in the warehouse (the tiles' comparison)
EARLIER_ORIGIN, LATER_ORIGIN = ORIGIN - timedelta(days=7), ORIGIN + timedelta(days=7)
# Weekly demand per SKU (requested_qty): complete weeks before D2, then the week of D2
# (not complete on D2) and a later week, neither of which the report may show.
WEEKS = {date(2023, 12, 18): 30, date(2023, 12, 25): 40, date(2024, 1, 1): 50, date(2024, 1, 8): 999}
# Non-additive KPI values of the total rows: (day, window) -> column -> value
TOTAL_KPIS = {
    (D1, 13): dict(
        inventory_value=120000.0,
        inventory_turnover=8.5,
        days_of_supply=21.0,
        achieved_service_level=0.93,
        target_service_level=0.95,
        forecast_wape=0.18,
        forecast_bias=0.03,
    ),
    (D2, 13): dict(
        inventory_value=110000.0,
        inventory_turnover=9.25,
        days_of_supply=19.5,
        achieved_service_level=0.94,
        target_service_level=0.95,
        forecast_wape=0.16,
        forecast_bias=-0.02,
    ),
    (D2, 1): dict(
        inventory_value=110000.0,
        inventory_turnover=11.0,
        days_of_supply=18.0,
        achieved_service_level=1.0,
        target_service_level=0.95,
    ),
    (WEEK_BEFORE, 13): dict(
        inventory_value=100000.0,
        inventory_turnover=9.0,
        days_of_supply=20.0,
        achieved_service_level=0.9,
        target_service_level=0.95,
        forecast_wape=0.2,
        forecast_bias=0.05,
    ),
}


@pytest.fixture(scope="module")
def config():
    return load_config(PROJECT_ROOT / "restock.yaml").override({"report.language": "en"})


def build_warehouse(path: Path, days=(D1, D2), weekly_demand: bool = True) -> None:
    """test_gated_publish's day set, plus what the report shows (see the module docstring)."""
    _build_warehouse(path, days=days)
    con = duckdb.connect(str(path))
    try:
        if weekly_demand:
            con.execute(
                "create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date, "
                "ordered_qty decimal(38,3), requested_qty decimal(38,3), order_line_count bigint, "
                "customer_active_days bigint)"
            )
            for week, qty in WEEKS.items():
                for sku, factor in (("S1", 2), ("S2", 1)):
                    for customer in ("C1", "C2"):
                        con.execute(
                            "insert into marts.customer_sku_weekly_demand values (?, ?, ?, ?, ?, 1, 1)",
                            [customer, sku, week, qty * factor / 2 - 1, qty * factor / 2],
                        )
        # total and SKU forecasts of the origin of the published days, and of the origins around it
        for origin, level_qty in ((EARLIER_ORIGIN, 90), (ORIGIN, 100), (LATER_ORIGIN, 500)):
            for h in (1, 2):
                start = origin + timedelta(days=1 + 7 * (h - 1))
                for level, key, qty in (
                    ("total", "total", 2 * level_qty),
                    ("sku", "S1", level_qty),
                    ("sku", "S2", level_qty),
                ):
                    con.execute(
                        "insert into analytics.level_forecasts (forecast_origin, level, key, period_start, horizon, "
                        "forecast_qty, lower_qty, upper_qty, base_qty, model, method) values (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                        "'combination', 'combination')",
                        [origin, level, key, start, h, qty, 0.8 * qty, 1.2 * qty, qty],
                    )
        con.execute(
            "insert into analytics.forecast_runs values (?, ?), (?, ?)", [EARLIER_ORIGIN] * 2 + [LATER_ORIGIN] * 2
        )
        # D2: two purchase orders, a rationed SKU (C1 now tier 12), a high alert, the replay's verdict
        if D2 in days:
            con.execute(
                "update analytics.replenishment_plan set recommended_order_qty = case sku when 'S1' then 250 else 500 end "
                "where as_of_date = ?",
                [D2],
            )
            con.execute(
                "update analytics.customer_segments set tier = 12 where as_of_date = ? and customer_id = 'C1'", [D2]
            )
            con.execute(
                "update analytics.customer_order_suggestions set allocation_rule = 'tier_weights', "
                "allocated_qty = case customer_id when 'C1' then 35 when 'C2' then 20 else 10 end "
                "where as_of_date = ? and sku = 'S2'",
                [D2],
            )
            con.execute(
                "insert into analytics.inventory_alerts values (?, 'WH01', 'S2', 'stockout_risk', 'high', -5, 0, "
                "500, 'projected stock -5 < 0')",
                [D2],
            )
            con.execute(
                "update analytics.replenishment_replay set actual_fill_rate = 0.984, plan_fill_rate = 0.979, "
                "avg_on_hand_change = -0.08 where as_of_date = ? and level = 'total'",
                [D2],
            )
        # KPI values of the total rows, and a day a week before D2 (in the warehouse only)
        for weeks in (1, 13):
            con.execute(
                "insert into analytics.kpis (as_of_date, window_weeks, level, key, window_start, order_lines, "
                "requested_qty, supplied_qty, quantity_fill_rate, line_fill_rate, stockout_days, on_hand_qty) "
                "values (?, ?, 'total', 'all', ?, 20, 200, 180, 0.9, 0.85, 3, 900)",
                [WEEK_BEFORE, weeks, WEEK_BEFORE - timedelta(days=7 * weeks - 1)],
            )
        for (day, weeks), values in TOTAL_KPIS.items():
            if day not in days and day != WEEK_BEFORE:
                continue
            sets = ", ".join(f"{column} = ?" for column in values)
            con.execute(
                f"update analytics.kpis set {sets} where as_of_date = ? and window_weeks = ? and level = 'total'",
                [*values.values(), day, weeks],
            )
    finally:
        con.close()


def publish(warehouse: Path, data_dir: Path, days, config):
    con = duckdb.connect(str(warehouse))
    try:
        return publish_days(con, data_dir, days, config)
    finally:
        con.close()


class _Tiles(HTMLParser):
    """The KPI tiles of a page: (metric, window) -> {value, previous (data attributes),
    label, text (the value as shown), delta}."""

    def __init__(self):
        super().__init__()
        self.tiles: dict[tuple[str, int], dict[str, str]] = {}
        self._tile: dict[str, str] | None = None
        self._part: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if "tile" in classes:
            self._tile = {"value": attrs["data-value"], "previous": attrs["data-previous"]}
            self.tiles[(attrs["data-metric"], int(attrs["data-window"]))] = self._tile
        elif self._tile is not None and {"value", "delta", "label"} & set(classes):
            part = next(c for c in classes if c in ("value", "delta", "label"))
            self._part = "text" if part == "value" else part  # the value as shown

    def handle_data(self, data):
        if self._tile is not None and self._part:
            self._tile[self._part] = self._tile.get(self._part, "") + data

    def handle_endtag(self, tag):
        if tag == "div" and self._part:
            self._part = None


def tiles_of(page: str) -> dict[tuple[str, int], dict[str, str]]:
    parser = _Tiles()
    parser.feed(page)
    return parser.tiles


def serving_kpis(data_dir: Path, day: date) -> dict[int, dict]:
    con = duckdb.connect(str(serving_path(data_dir)), read_only=True)
    try:
        frame = con.execute("select * from kpis where as_of_date = ? and level = 'total'", [day]).df()
    finally:
        con.close()
    return {int(r["window_weeks"]): r for r in frame.to_dict("records")}


@pytest.fixture(scope="module")
def published(tmp_path_factory, config):
    """D1 and D2 published from the report's warehouse; returns (warehouse, data_dir, outcomes)."""
    root = tmp_path_factory.mktemp("report")
    warehouse, data_dir = root / "warehouse.duckdb", root / "data"
    build_warehouse(warehouse)
    outcomes = publish(warehouse, data_dir, [D1, D2], config)
    assert [o.published for o in outcomes] == [True, True], [o.message() for o in outcomes]
    return warehouse, data_dir, outcomes


# ------------------------------------------------------------------ files and content


def test_each_published_day_gets_its_report_and_the_newest_is_report_latest(published):
    _, data_dir, outcomes = published
    assert [o.report for o in outcomes] == [report_path(data_dir, D1), report_path(data_dir, D2)]
    assert sorted(p.name for p in report_dir(data_dir).iterdir()) == [f"{D1}.html", f"{D2}.html", REPORT_LATEST]
    latest = (report_dir(data_dir) / REPORT_LATEST).read_bytes()
    assert latest == report_path(data_dir, D2).read_bytes()
    page = latest.decode("utf-8")
    assert f'<time datetime="{D2}" id="as-of">' in page
    # Reachable from serving.duckdb, listed when queried.
    con = duckdb.connect(str(serving_path(data_dir)), read_only=True)
    try:
        rows = con.execute("select as_of_date, path, is_latest from daily_reports order by 1").fetchall()
        tables = {r[0] for r in con.execute("select table_name from published_tables").fetchall()}
    finally:
        con.close()
    assert rows == [
        (D1, str(report_path(data_dir, D1).absolute()), False),
        (D2, str(report_path(data_dir, D2).absolute()), True),
    ]
    assert "report" not in tables  # the report folder is not a published table


def test_the_page_is_self_contained_and_made_for_a_phone(published):
    _, data_dir, _ = published
    page = (report_dir(data_dir) / REPORT_LATEST).read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
    # nothing to load: no src/href/url() but the SVGs' own fragment references (#id)
    refs = re.findall(r"""(?:\bsrc|\bhref)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]+)""", page)
    assert all(ref.startswith("#") for pair in refs for ref in pair if ref), refs
    assert "display:grid" in page and "overflow-x:auto" in page
    assert page.count("<svg") == 3 + 2  # forecasts of the total and both SKUs, two KPI trends
    # one inline SVG per chart, text left as text (svg.fonttype none), ids unique on the page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    assert "<text" in page and "glyph" not in page


def test_tiles_are_the_kpis_rows_with_their_change_over_7_days(published):
    _, data_dir, _ = published
    tiles = tiles_of(report_path(data_dir, D2).read_text(encoding="utf-8"))
    kpis = serving_kpis(data_dir, D2)
    assert {w for _, w in tiles} == {1, 13}
    assert {m for m, w in tiles if w == 1} == {
        "quantity_fill_rate",
        "line_fill_rate",
        "stockout_days",
        "inventory_value",
        "inventory_turnover",
        "days_of_supply",
        "achieved_service_level",
    }
    assert {m for m, w in tiles if w == 13} == {m for m, w in tiles if w == 1} | {"forecast_wape", "forecast_bias"}
    for (metric, weeks), tile in tiles.items():
        assert float(tile["value"]) == pytest.approx(float(kpis[weeks][metric])), (metric, weeks)
    t13 = {m: tiles[(m, 13)] for m, w in tiles if w == 13}
    assert t13["quantity_fill_rate"]["text"] == "95.0 %"
    assert t13["stockout_days"]["text"] == "0"
    assert t13["inventory_value"]["text"] == "¥110,000"
    assert t13["inventory_turnover"]["text"] == "9.2"  # 9.25 -> one decimal
    assert t13["days_of_supply"]["text"] == "19.5 d"
    assert t13["forecast_bias"]["text"] == "-2.0 %"
    # against WEEK_BEFORE (0.90 fill rate, 3 stockout days, 100,000 of stock, WAPE 0.20, bias +0.05)
    assert t13["quantity_fill_rate"]["delta"] == "+5.0 pt"
    assert t13["stockout_days"]["delta"] == "-3"
    assert t13["inventory_value"]["delta"] == "+10.0 %"
    assert t13["forecast_wape"]["delta"] == "-4.0 pt"
    assert t13["forecast_bias"]["delta"] == "-7.0 pt"
    assert float(t13["forecast_wape"]["previous"]) == 0.2
    # D1 has no day a week before it: every change is "—"
    assert {t["delta"] for t in tiles_of(report_path(data_dir, D1).read_text(encoding="utf-8")).values()} == {"—"}


def _rows(page: str, table_class: str) -> list[list[str]]:
    body = re.search(rf'<table class="{table_class}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert body, table_class
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))]


def test_orders_alerts_rationing_and_replay_of_the_day(published):
    _, data_dir, _ = published
    page = report_path(data_dir, D2).read_text(encoding="utf-8")
    orders = _rows(page, "orders")
    assert [(r[1], r[3], r[6]) for r in orders] == [("S2", "500", "50,000"), ("S1", "250", "25,000")]
    assert "2 orders, 750 cartons, value ¥75,000" in page
    alerts = re.findall(r'<details(?: open)? data-severity="(\w+)"', page)
    assert alerts == ["high", "low"]  # high first
    rationed = _rows(page, "rationed")
    assert rationed == [["WH01", "S2", "tier_weights", "3", "100", "65", "65.0 %"]]
    # tier from customer_segments of the day (C1 is tier 12 there), not the suggestions' column
    assert _rows(page, "tiers") == [["5", "2", "50", "30", "60.0 %"], ["12", "1", "50", "35", "70.0 %"]]
    assert (
        "Over the last 13 weeks, following the plan would have held 8 % less stock at a fill rate of 97.9 % "
        "(actual 98.4 %)." in page
    )
    d1 = report_path(data_dir, D1).read_text(encoding="utf-8")
    assert "No purchase order to place today." in d1 and "no SKU is rationed" in d1


def test_charts_show_complete_weeks_and_forecasts_dated_on_or_before_the_day(published):
    _, data_dir, _ = published
    page = report_path(data_dir, D2).read_text(encoding="utf-8")
    figures = dict(re.findall(r'<figure class="chart" data-chart="(fc\d)" (.*?)>', page))
    assert len(figures) == 3  # the total and both SKUs (fewer than 5 have demand)
    attrs = {k: dict(re.findall(r'data-([\w-]+)="([^"]*)"', v)) for k, v in figures.items()}
    assert [a["key"] for a in attrs.values()] == ["total", "S1", "S2"]  # most demand first
    for a in attrs.values():
        # the three complete weeks (not the week of D2, not later ones); the day's two
        # forecast weeks; the forecast made a week before 2024-01-01 (not LATER_ORIGIN's)
        assert (a["actual-weeks"], a["forecast-weeks"], a["past-weeks"]) == ("3", "2", "1"), a
    trend = re.search(r'<figure class="chart" data-chart="trend-fill" data-days="(\d+)"', page)
    assert trend and trend.group(1) == "3"  # WEEK_BEFORE, D1, D2


def test_the_language_switch_changes_every_label(published, config):
    warehouse, _, _ = published
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        pages = {lang: render_report(con, D2, config.override({"report.language": lang})) for lang in ("en", "zh")}
    finally:
        con.close()
    assert '<html lang="en">' in pages["en"] and '<html lang="zh-CN">' in pages["zh"]
    for key in ("orders", "alerts", "replay", "forecasts", "accuracy", "quantity_fill_rate"):
        assert LABELS["en"][key] in pages["en"] and LABELS["en"][key] not in pages["zh"], key
        assert LABELS["zh"][key] in pages["zh"], key
    assert "过去 13 周若按计划补货，平均库存将减少 8 %，订单满足率为 97.9 %（实际 98.4 %）。" in pages["zh"]
    assert set(LABELS["en"]) == set(LABELS["zh"])


def test_the_replay_sentence_says_more_less_or_the_same():
    en = LABELS["en"]
    row = {"replay_weeks": 13, "plan_fill_rate": 0.97, "actual_fill_rate": 0.95}
    assert "held 12 % more stock" in replay_sentence({**row, "avg_on_hand_change": 0.12}, en)
    assert "held the same stock" in replay_sentence({**row, "avg_on_hand_change": 0.004}, en)
    assert "held — stock" in replay_sentence({**row, "avg_on_hand_change": None}, en)


# ------------------------------------------------------------------ retention and failures


def test_a_day_unpublished_by_retention_loses_its_report(tmp_path, config):
    short = config.override({"publishing.retain_days": 2})
    data_dir = tmp_path / "data"
    build_warehouse(tmp_path / "w2.duckdb", days=(D1, D2))
    publish(tmp_path / "w2.duckdb", data_dir, [D1, D2], short)
    assert sorted(report_dir(data_dir).glob("2*.html")) == [report_path(data_dir, D1), report_path(data_dir, D2)]
    build_warehouse(tmp_path / "w3.duckdb", days=(D1, D2, D3))
    [outcome] = publish(tmp_path / "w3.duckdb", data_dir, [D3], short)
    assert outcome.published and published_days(data_dir, "kpis") == [D2, D3]
    assert sorted(report_dir(data_dir).glob("2*.html")) == [report_path(data_dir, D2), report_path(data_dir, D3)]
    assert (report_dir(data_dir) / REPORT_LATEST).read_bytes() == report_path(data_dir, D3).read_bytes()
    con = duckdb.connect(str(serving_path(data_dir)), read_only=True)
    try:
        assert con.execute("select as_of_date, is_latest from daily_reports order by 1").fetchall() == [
            (D2, False),
            (D3, True),
        ]
    finally:
        con.close()


def test_a_report_that_fails_is_logged_and_neither_blocks_nor_unpublishes_the_day(tmp_path, config, caplog):
    warehouse, data_dir = tmp_path / "w.duckdb", tmp_path / "data"
    build_warehouse(warehouse, weekly_demand=False)  # the report reads marts.customer_sku_weekly_demand
    with caplog.at_level(logging.INFO, logger="restock.publish"):
        outcomes = publish(warehouse, data_dir, [D1, D2], config)
    assert [(o.published, o.report) for o in outcomes] == [(True, None), (True, None)]
    assert published_days(data_dir, "kpis") == [D1, D2]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(":")[0] for r in errors] == [str(D1), str(D2)]
    assert all("report could not be built" in r.getMessage() and r.exc_info for r in errors)
    assert "customer_sku_weekly_demand" in caplog.text
    assert not report_dir(data_dir).exists() or not list(report_dir(data_dir).glob("*.html"))
    # Once the cause is fixed, the next run writes the reports.
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date, "
        "ordered_qty decimal(38,3), requested_qty decimal(38,3), order_line_count bigint, customer_active_days bigint)"
    )
    con.close()
    outcomes = publish(warehouse, data_dir, [D2], config)
    assert outcomes[0].report == report_path(data_dir, D2)
    assert (report_dir(data_dir) / REPORT_LATEST).read_bytes() == report_path(data_dir, D2).read_bytes()
    # A republished day whose report fails loses its previous report (it showed the old rows).
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.customer_sku_weekly_demand")
    con.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="restock.publish"):
        [outcome] = publish(warehouse, data_dir, [D2], config)
    assert outcome.published and outcome.report is None
    assert not report_path(data_dir, D2).exists() and not (report_dir(data_dir) / REPORT_LATEST).exists()
    assert any(r.levelno == logging.ERROR and r.getMessage().startswith(str(D2)) for r in caplog.records)


def test_a_report_folder_that_cannot_be_written_is_logged_and_publishing_goes_on(tmp_path, config, caplog):
    warehouse, data_dir = tmp_path / "w.duckdb", tmp_path / "data"
    build_warehouse(warehouse)
    report_dir(data_dir).parent.mkdir(parents=True)
    report_dir(data_dir).write_text("not a folder")
    with caplog.at_level(logging.ERROR, logger="restock.publish"):
        outcomes = publish(warehouse, data_dir, [D1], config)
    assert outcomes[0].published and outcomes[0].report is None
    assert any(str(D1) in r.getMessage() and "report" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ in a browser

CHROMIUM = shutil.which("chromium")


def _inspect(page: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "report_browser.py"), str(page), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
)
def test_the_report_renders_in_a_browser_without_network_with_its_points_and_tiles(published):
    _, data_dir, _ = published
    seen = _inspect(report_dir(data_dir) / REPORT_LATEST)
    assert seen["console_errors"] == [] and seen["requests"] == []
    assert seen["sections"] == ["kpis", "orders", "alerts", "rationing", "replay", "forecasts", "accuracy", "trends"]
    charts = {c["chart"]: c for c in seen["charts"]}
    assert set(charts) == {"fc0", "fc1", "fc2", "trend-fill", "trend-stock"}
    for name, chart in charts.items():
        assert chart["elements"] > 0 and chart["width"] > 0, name
    for name in ("fc0", "fc1", "fc2"):
        series, data = charts[name]["series"], charts[name]["data"]
        # one marker per point drawn, and the lines have a drawn extent
        assert series["actual"]["markers"] == int(data["actualWeeks"]) == 3, name
        assert series["forecast"]["markers"] == int(data["forecastWeeks"]) == 2, name
        assert series["past"]["markers"] == int(data["pastWeeks"]) == 1, name
        assert series["band"]["height"] > 0 and series["actual"]["width"] > 0, name
    for column in ("quantity_fill_rate", "line_fill_rate"):
        assert charts["trend-fill"]["series"][column]["vertices"] == 3
    assert charts["trend-stock"]["series"]["on_hand_qty"]["vertices"] == 3
    kpis = serving_kpis(data_dir, D2)
    assert len(seen["tiles"]) == 16
    for tile in seen["tiles"]:
        expected = kpis[tile["window"]][tile["metric"]]
        assert float(tile["value"]) == pytest.approx(float(expected)), tile
        if tile["metric"].endswith("fill_rate"):
            assert tile["text"] == f"{float(expected) * 100:.1f} %", tile
    assert seen["verdict"].startswith("Over the last 13 weeks, following the plan would have held 8 % less stock")
    # On a phone: the page itself never scrolls sideways (wide tables scroll in their box).
    phone = _inspect(report_dir(data_dir) / REPORT_LATEST, "--width", "390", "--mobile")
    assert phone["console_errors"] == []
    assert phone["scrollWidth"] <= phone["innerWidth"] == 390
    assert set(phone["tiled"]) == {"grid"}
    assert all(c["width"] <= 390 for c in phone["charts"])
