"""restock.charts: matplotlib figures as inline SVG (text left as text, ids unique per
chart) and as PNG / data URI, from plain pandas frames."""

import base64
import re
from datetime import date, timedelta

import pandas as pd

from restock.charts import (
    data_uri,
    forecast_figure,
    forecast_svg,
    limit_trend_figure,
    png_bytes,
    projection_figure,
    stock_position_figure,
    to_svg,
    tracking_signal_figure,
    trend_svg,
)

MONDAY = date(2025, 12, 1)


def _frames():
    weeks = [MONDAY + timedelta(weeks=i) for i in range(4)]
    actual = pd.DataFrame({"week_start": weeks, "qty": [10.0, 12.0, 9.0, 11.0]})
    ahead = [MONDAY + timedelta(weeks=4 + i) for i in range(3)]
    forecast = pd.DataFrame(
        {"period_start": ahead, "forecast_qty": [11.0, 12.0, 13.0], "lower_qty": [9.0] * 3, "upper_qty": [14.0] * 3}
    )
    past = pd.DataFrame({"period_start": weeks[1:], "forecast_qty": [11.0, 10.0, 10.5]})
    return actual, forecast, past


def test_svg_keeps_text_as_text_and_ids_unique_per_chart():
    actual, forecast, past = _frames()
    labels = {"actual": "实际", "forecast": "预测"}
    one = forecast_svg(actual, forecast, past, labels=labels, ident="a", title="合计")
    two = forecast_svg(actual, forecast, past, labels=labels, ident="b")
    assert one.startswith('<svg class="chart-svg" data-chart="a" role="img" aria-label="合计"')
    assert "<?xml" not in one and "<metadata" not in one and 'width="100%"' in one
    assert ">实际</text>" in one and ">预测</text>" in one  # svg.fonttype none: the browser draws the text
    assert "font-family" not in re.sub(r"<svg [^>]*>", "", one, count=1)  # once, on the root
    ids_one, ids_two = set(re.findall(r'\sid="([^"]+)"', one)), set(re.findall(r'\sid="([^"]+)"', two))
    assert ids_one and all(i.startswith("a-") for i in ids_one) and not ids_one & ids_two
    for ref in re.findall(r'(?:url\(#|href="#)([^)"]+)', one):
        assert ref in ids_one, ref  # every reference points at an id of the same chart
    assert {"a-series-actual", "a-series-forecast", "a-series-past", "a-series-band"} <= ids_one
    actual_group = re.search(r'<g id="a-series-actual">(.*?)</g></g>', one, re.S)
    assert actual_group and actual_group.group(1).count("<use") == len(actual)  # a marker per week
    # same input, same bytes (stable ids, no date in the file)
    assert forecast_svg(actual, forecast, past, labels=labels, ident="a", title="合计") == one


def test_trend_lines_and_png_variants():
    days = pd.DataFrame(
        {"as_of_date": [MONDAY + timedelta(days=i) for i in range(5)], "fill": [0.9, 0.95, None, 1.0, 0.97]}
    )
    svg = trend_svg(days, {"fill": "fill rate"}, percent=True, ident="t")
    line = re.search(r'<g id="t-series-fill"><path d="([^"]+)"', svg)
    assert line and len(re.findall(r"[ML]", line.group(1))) == 4  # the missing day is a gap
    png = png_bytes(forecast_figure(*_frames()))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
    uri = data_uri(forecast_figure(*_frames()))
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")


def test_tracking_signal_bars_beyond_the_limit_and_stock_marks():
    frame = pd.DataFrame({"key": ["A", "B", "C", "D"], "tracking_signal": [5.2, -1.0, -4.5, None]})
    svg = to_svg(tracking_signal_figure(frame, 4), "ts")
    assert set(re.findall(r'id="ts-series-beyond-(\d+)"', svg)) == {"0", "1"}  # A and C
    assert set(re.findall(r'id="ts-series-within-(\d+)"', svg)) == {"0", "1"}  # B and D (missing = 0)
    assert ">A</text>" in svg and ">D</text>" in svg

    stock = pd.DataFrame(
        {
            "label": ["WH01 S1", "WH02 S2"],
            "inventory_position": [1.0, 6.0],
            "on_hand_qty": [2.0, 7.0],
            "safety_stock": [3.0, 2.0],
            "reorder_point": [8.0, 5.0],
            "order_up_to": [8.0, 9.0],
        }
    )
    svg = to_svg(stock_position_figure(stock), "sp")
    for column in ("on_hand_qty", "safety_stock", "reorder_point", "order_up_to"):
        group = re.search(rf'<g id="sp-series-{column}">(.*?)</g>', svg, re.S)
        assert group and group.group(1).count("<use") == 2, column  # a mark per row
    assert len(re.findall(r'id="sp-series-inventory_position-\d"', svg)) == 2


def test_projection_panels_and_limit_trend():
    plan = pd.DataFrame(
        {
            "label": [f"WH01 S{i}" for i in range(5)],
            "on_hand_qty": [100.0, 50.0, 0.0, 0.04, 900.0],
            "daily_demand_mean": [10.0, 20.0, 1.0, 0.01, 100.0],
            "lead_time_days": [4.0, 5.0, 3.0, 0.0, float("nan")],
            "safety_stock": [20.0, 30.0, float("nan"), 0.01, 200.0],
            "reorder_point": [60.0, 130.0, 5.0, 0.05, 800.0],
        }
    )
    fig = projection_figure(plan)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 5 and len(fig.axes) == 8  # 2 rows of 4, the rest hidden
    first = shown[0].get_lines()[0].get_ydata()
    assert first[0] == 100.0 and abs(first[-1] - 60.0) < 1e-9  # 100 - 10/day over 4 days
    assert min(shown[1].get_lines()[0].get_ydata()) == 0.0  # floored: runs out on day 2.5
    assert len(shown[2].get_lines()) == 2  # no safety stock line where it is missing
    assert shown[3].get_xlim() == (0.0, 1.0) == shown[4].get_xlim()  # a lead time of 0 or missing: one day
    assert png_bytes(fig, dpi=90).startswith(b"\x89PNG")

    reviews = pd.DataFrame(
        {"review_date": [MONDAY + timedelta(weeks=i) for i in range(4)], "tracking_signal": [1.0, -2.0, 4.5, 3.0]}
    )
    svg = to_svg(limit_trend_figure(reviews, "tracking_signal", 4), "lt")
    line = re.search(r'<g id="lt-series-tracking_signal"><path d="([^"]+)"', svg)
    assert line and len(re.findall(r"[ML]", line.group(1))) == 4
