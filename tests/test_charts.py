"""restock.charts: matplotlib figures as inline SVG (text left as text, ids unique per
chart) and as PNG / data URI, from plain pandas frames."""

import base64
import re
from datetime import date, timedelta

import pandas as pd

from restock.charts import data_uri, forecast_figure, forecast_svg, png_bytes, trend_svg

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
