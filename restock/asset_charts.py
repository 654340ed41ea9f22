"""Pictures for the Dagster asset pages: the charts a data engineer looks at after a
run, each as Markdown holding a PNG data URI (``![title](data:image/png;base64,...)``)
and a small table of the numbers drawn, for ``MetadataValue.md``.

One function per asset, all with the same call: the warehouse connection, the last day
of the run and the configuration; each returns ``{metadata key: Markdown}``:

* ``demand_forecast_charts`` (forecasting/demand_forecasts): forecast against actual
  with the 80 % interval for the total and the ``TOP_FORECAST_SKUS`` SKUs with the most
  demand (the daily report's weeks and queries, restock.publish.daily_report);
* ``forecast_accuracy_charts`` (forecasting/forecast_accuracy): the 1-week-ahead
  tracking signal of the ``TRACKING_SIGNAL_SKUS`` SKUs with the most demand against
  ±accuracy.tracking_signal_limit, and the total's over the last reviews;
* ``replenishment_charts`` (replenishment/replenishment_plan): the ``AT_RISK_SKUS``
  warehouse x SKU rows with the fewest days of supply: inventory position and on hand
  against safety stock, reorder point and order-up-to, and on hand projected over the
  lead time at the mean daily demand;
* ``kpi_charts`` (performance/kpis): the total's fill rates and stock over the last 13
  weeks, 1-week window.

In the Dagster UI (1.13) each entry is a "[Show Markdown]" link in the metadata table of
the asset's page (``/assets/<path>``, Overview); its dialog draws the images (the UI's
Markdown sanitizer lets ``data:`` image sources through; tests/orchestration/
test_asset_charts_ui.py checks it in Chromium).

A chart that fails is left out and reported through ``warn`` (the asset's log): a
picture never fails an asset. The rows charted are dated on or before the day. PNGs at
``DPI`` dots per inch stay around 20-40 KB. Nothing here imports Dagster; matplotlib
and pandas load on the first call.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from restock.config import RestockConfig
from restock.publish.daily_report import DASH, fmt_number, fmt_share, forecast_frames, kpi_trend_frame

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

Warn = Callable[[str], None]
Charts = dict[str, str]

DPI = 90  # PNG resolution: ~580 px wide, sharp enough in the UI's dialog, ~30 KB
TOP_FORECAST_SKUS = 3  # SKUs with a forecast chart of their own, by demand over the charted weeks
TRACKING_SIGNAL_SKUS = 12  # SKUs in the tracking signal chart, by demand over the review window
TRACKING_SIGNAL_REVIEWS = 13  # reviews in the total's tracking signal trend
AT_RISK_SKUS = 8  # warehouse x SKU rows with the fewest days of supply
TREND_DAYS = 91  # 13 weeks of daily KPI rows


# ------------------------------------------------------------------ Markdown pieces


def image_markdown(title: str, fig: Figure) -> str:
    """``![title](data:image/png;base64,...)`` of ``fig`` at ``DPI``."""
    from restock.charts import png_bytes

    data = base64.b64encode(png_bytes(fig, dpi=DPI)).decode("ascii")
    return f"![{_cell(title).replace('[', '(').replace(']', ')')}](data:image/png;base64,{data})"


def table_markdown(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table (``right``: which columns align right)."""
    align = right if right is not None else [i > 0 for i in range(len(headers))]
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join("---:" if r else "---" for r in align) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _block(heading: str, note: str, fig: Figure | None, table: str) -> str:
    parts = [f"**{heading}**", note]
    if fig is not None:
        parts.append(image_markdown(heading, fig))
    parts.append(table)
    return "\n\n".join(p for p in parts if p)


def _small(value: Any, digits: int = 1) -> str:
    """fmt_number with ``digits`` decimals, or 2 significant digits below that (0.0044)."""
    if value is not None and not (isinstance(value, float) and math.isnan(value)) and 0 < abs(value) < 10**-digits:
        return f"{float(value):.2g}"
    return fmt_number(value, digits)


def _day(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def _build(charts: Charts, key: str, build: Callable[[], str | None], warn: Warn) -> None:
    """charts[key] = build(); a failure is a warning and the chart is left out."""
    try:
        text = build()
    except Exception as error:  # a picture never fails the asset
        warn(f"chart {key} left out: {type(error).__name__}: {error}")
        return
    if text:
        charts[key] = text


# ------------------------------------------------------------------ forecasts


def demand_forecast_charts(
    con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, warn: Warn = log.warning
) -> Charts:
    """``chart_forecast_total`` and ``chart_forecast_top_skus``: weekly actual demand of
    the complete weeks of accuracy.window_weeks, the 1-week-ahead forecasts of those
    weeks and the day's forecast with its 80 % interval."""
    charts: Charts = {}
    frames: list[Any] = []

    def load() -> Any:
        if not frames:
            frames.append(forecast_frames(con, day, config, TOP_FORECAST_SKUS))
        return frames[0]

    def one(key: str) -> str:
        from restock.charts import forecast_figure

        data = load()
        actual, current, past = data.actual(key), data.forecast(key), data.past_forecast(key)
        title = f"Forecast vs actual: {key or 'total'}"
        if actual.empty and current.empty:
            return f"**{title}**\n\nNo demand and no forecast as of {day}."
        fig = forecast_figure(actual, current, past, today=day, ident=f"fc-{key or 'total'}")
        note = (
            f"As of {day}: the last {data.weeks} complete weeks, the forecast made one week before each, "
            "and the day's forecast with its 80 % interval."
        )
        return _block(title, note, fig, _forecast_table(actual, current, past))

    _build(charts, "chart_forecast_total", lambda: one(""), warn)

    def top() -> str | None:
        keys = load().keys[1:]
        return "\n\n---\n\n".join(one(k) for k in keys) if keys else None

    _build(charts, "chart_forecast_top_skus", top, warn)
    return charts


def _forecast_table(actual: pd.DataFrame, current: pd.DataFrame, past: pd.DataFrame) -> str:
    rows: dict[str, dict[str, Any]] = {}
    for r in actual.itertuples(index=False):
        rows.setdefault(_day(r.week_start), {})["actual"] = r.qty
    for r in past.itertuples(index=False):
        rows.setdefault(_day(r.period_start), {})["past"] = r.forecast_qty
    for r in current.itertuples(index=False):
        rows.setdefault(_day(r.period_start), {}).update(forecast=r.forecast_qty, lower=r.lower_qty, upper=r.upper_qty)
    body = [
        (
            week,
            fmt_number(v.get("actual")),
            fmt_number(v.get("past")),
            fmt_number(v.get("forecast")),
            f"{fmt_number(v['lower'])} – {fmt_number(v['upper'])}" if "lower" in v else DASH,
        )
        for week, v in sorted(rows.items())
    ]
    return table_markdown(["week", "actual", "1-week-ahead forecast", "forecast", "80 % interval"], body)


# ------------------------------------------------------------------ accuracy


def forecast_accuracy_charts(
    con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, warn: Warn = log.warning
) -> Charts:
    """``chart_tracking_signal_skus``: the day's review, horizon 1, the SKUs with the most
    demand; ``chart_tracking_signal_trend``: the total's tracking signal over the last
    reviews known on the day, with the number of SKUs out of control in each."""
    limit = float(config.accuracy.tracking_signal_limit)
    charts: Charts = {}

    def skus() -> str:
        from restock.charts import tracking_signal_figure

        frame = con.execute(
            """select key, actual_qty, forecast_qty, wape, bias, tracking_signal, out_of_control, review_date
               from analytics.forecast_accuracy
               where as_of_date = ? and level = 'sku' and horizon = 1
               order by actual_qty desc nulls last, key""",
            [day],
        ).df()
        title = "Tracking signal per SKU, 1 week ahead"
        if frame.empty:
            return f"**{title}**\n\nNo accuracy review as of {day}."
        out = int(frame["out_of_control"].fillna(False).astype(bool).sum())
        top = frame.head(TRACKING_SIGNAL_SKUS)
        note = (
            f"Review of {_day(top['review_date'].iloc[0])} (as of {day}), the {len(top)} SKUs with the most demand; "
            f"limit ±{limit:g} (accuracy.tracking_signal_limit). {out} of {len(frame)} SKUs are out of control."
        )
        fig = tracking_signal_figure(top, limit)
        table = table_markdown(
            ["SKU", "actual", "forecast", "WAPE", "bias", "tracking signal", "out of control"],
            [
                (
                    r.key,
                    fmt_number(r.actual_qty),
                    fmt_number(r.forecast_qty),
                    fmt_share(r.wape),
                    fmt_share(r.bias, signed=True),
                    fmt_number(r.tracking_signal, 2),
                    "yes" if r.out_of_control is True else ("no" if r.out_of_control is False else DASH),
                )
                for r in top.itertuples(index=False)
            ],
            [False, True, True, True, True, True, False],
        )
        return _block(title, note, fig, table)

    def trend() -> str:
        from restock.charts import limit_trend_figure

        frame = con.execute(
            """select review_date,
                      any_value(tracking_signal) filter (where level = 'total') as tracking_signal,
                      any_value(wape) filter (where level = 'total') as wape,
                      count(*) filter (where level = 'sku' and out_of_control) as skus_out_of_control,
                      count(*) filter (where level = 'sku') as skus
               from analytics.accuracy_reviews
               where horizon = 1 and level in ('total', 'sku')
                 and review_date <= (select max(forecast_origin) from analytics.forecast_runs where as_of_date = ?)
               group by review_date order by review_date desc limit ?""",
            [day, TRACKING_SIGNAL_REVIEWS],
        ).df()
        title = "Tracking signal of the total, 1 week ahead"
        if frame.empty:
            return f"**{title}**\n\nNo accuracy review as of {day}."
        frame = frame.sort_values("review_date")
        fig = limit_trend_figure(frame, "tracking_signal", limit, label="total")
        note = f"The last {len(frame)} reviews known on {day}; limit ±{limit:g}."
        table = table_markdown(
            ["review", "tracking signal", "WAPE", "SKUs out of control"],
            [
                (
                    _day(r.review_date),
                    fmt_number(r.tracking_signal, 2),
                    fmt_share(r.wape),
                    f"{int(r.skus_out_of_control)} of {int(r.skus)}",
                )
                for r in frame.itertuples(index=False)
            ],
        )
        return _block(title, note, fig, table)

    _build(charts, "chart_tracking_signal_skus", skus, warn)
    _build(charts, "chart_tracking_signal_trend", trend, warn)
    return charts


# ------------------------------------------------------------------ replenishment


def at_risk_rows(con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig) -> pd.DataFrame:
    """The ``AT_RISK_SKUS`` rows of replenishment_plan on ``day`` with the fewest days of
    supply, among the warehouse x SKU with a mean daily demand above 0 that may be
    ordered (active, or every SKU when replenishment.order_inactive_products)."""
    return con.execute(
        """select warehouse_id, sku, abc_class, on_hand_qty, in_transit_qty, inventory_position,
                  daily_demand_mean, lead_time_days, safety_stock, reorder_point, order_up_to,
                  days_of_supply, recommended_order_qty
           from analytics.replenishment_plan
           where as_of_date = ? and daily_demand_mean > 0 and (is_active or ?)
           order by days_of_supply nulls last, warehouse_id, sku
           limit ?""",
        [day, bool(config.replenishment.order_inactive_products), AT_RISK_SKUS],
    ).df()


def replenishment_charts(
    con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, warn: Warn = log.warning
) -> Charts:
    """``chart_at_risk_skus``: the rows of ``at_risk_rows``: inventory position and on
    hand against safety stock, reorder point and order-up-to (in days of mean daily
    demand, so every SKU fits one axis), on hand projected over the lead time, and the
    plan's numbers."""
    charts: Charts = {}

    def build() -> str:
        from restock.charts import projection_figure, stock_position_figure

        frame = at_risk_rows(con, day, config)
        title = f"Most at-risk SKUs on {day}"
        if frame.empty:
            return f"**{title}**\n\nNo warehouse x SKU with demand in the plan of {day}."
        frame["label"] = frame["warehouse_id"] + " " + frame["sku"]
        per_day = frame[["label"]].copy()
        for column in ("inventory_position", "on_hand_qty", "safety_stock", "reorder_point", "order_up_to"):
            per_day[column] = frame[column] / frame["daily_demand_mean"]
        positions = stock_position_figure(per_day)
        projection = projection_figure(frame)
        note = (
            f"The {len(frame)} warehouse x SKU with the fewest days of supply (inventory position / mean daily "
            "demand). Chart 1: inventory position (bar) and on hand against safety stock, reorder point and "
            "order-up-to, in days of mean daily demand. Chart 2: on hand over the lead time at the mean daily "
            "demand, without receipts."
        )
        table = table_markdown(
            [
                "warehouse",
                "SKU",
                "ABC",
                "on hand",
                "in transit",
                "position",
                "daily demand",
                "lead time (d)",
                "safety stock",
                "reorder point",
                "order-up-to",
                "days of supply",
                "order qty",
            ],
            [
                (
                    r.warehouse_id,
                    r.sku,
                    r.abc_class or DASH,
                    fmt_number(r.on_hand_qty),
                    fmt_number(r.in_transit_qty),
                    fmt_number(r.inventory_position),
                    _small(r.daily_demand_mean, 2),
                    fmt_number(r.lead_time_days, 1),
                    _small(r.safety_stock),
                    _small(r.reorder_point),
                    _small(r.order_up_to),
                    fmt_number(r.days_of_supply, 1),
                    fmt_number(r.recommended_order_qty),
                )
                for r in frame.itertuples(index=False)
            ],
            [False, False, False, *[True] * 10],
        )
        return "\n\n".join(
            [
                f"**{title}**",
                note,
                image_markdown(f"Stock position of the most at-risk SKUs, {day}", positions),
                image_markdown(f"On hand projected over the lead time, {day}", projection),
                table,
            ]
        )

    _build(charts, "chart_at_risk_skus", build, warn)
    return charts


# ------------------------------------------------------------------ KPIs


def kpi_charts(con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, warn: Warn = log.warning) -> Charts:
    """``chart_fill_rate_trend`` and ``chart_stock_trend``: the total's daily KPIs of the
    last 13 weeks in the 1-week window (the shortest window of the day); the tables list
    every 7th day back from ``day``."""
    charts: Charts = {}
    frames: list[pd.DataFrame] = []

    def load() -> pd.DataFrame:
        if not frames:
            frames.append(kpi_trend_frame(con, day, TREND_DAYS))
        return frames[0]

    def weekly(frame: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd

        dates = pd.to_datetime(frame["as_of_date"])
        picked = ((pd.Timestamp(day) - dates).dt.days % 7) == 0
        return frame[picked.to_numpy()]

    def fill() -> str:
        from restock.charts import trend_figure

        frame, title = load(), "Fill rate of the total, trailing week"
        if frame.empty:
            return f"**{title}**\n\nNo KPI rows as of {day}."
        fig = trend_figure(
            frame, {"quantity_fill_rate": "quantity fill rate", "line_fill_rate": "line fill rate"}, percent=True
        )
        table = table_markdown(
            ["day", "quantity fill rate", "line fill rate"],
            [
                (_day(r.as_of_date), fmt_share(r.quantity_fill_rate), fmt_share(r.line_fill_rate))
                for r in weekly(frame).itertuples(index=False)
            ],
        )
        note = f"{len(frame)} days up to {day} (analytics.kpis, level total, 1-week window); the table: every 7th day."
        return _block(title, note, fig, table)

    def stock() -> str:
        from restock.charts import trend_figure

        frame, title = load(), "Stock on hand of the total (cartons)"
        if frame.empty:
            return f"**{title}**\n\nNo KPI rows as of {day}."
        fig = trend_figure(frame, {"on_hand_qty": "on hand", "avg_on_hand_qty": "week's average"})
        table = table_markdown(
            ["day", "on hand", "week's average"],
            [
                (_day(r.as_of_date), fmt_number(r.on_hand_qty), fmt_number(r.avg_on_hand_qty))
                for r in weekly(frame).itertuples(index=False)
            ],
        )
        note = f"{len(frame)} days up to {day} (analytics.kpis, level total, 1-week window); the table: every 7th day."
        return _block(title, note, fig, table)

    _build(charts, "chart_fill_rate_trend", fill, warn)
    _build(charts, "chart_stock_trend", stock, warn)
    return charts


def chart_png_sizes(charts: Charts) -> dict[str, list[int]]:
    """Bytes of each PNG embedded in ``charts`` (for logs and tests)."""
    import re

    return {
        key: [len(base64.b64decode(m)) for m in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)]
        for key, text in charts.items()
    }


__all__ = [
    "demand_forecast_charts",
    "forecast_accuracy_charts",
    "replenishment_charts",
    "kpi_charts",
    "at_risk_rows",
    "image_markdown",
    "table_markdown",
    "chart_png_sizes",
    "DPI",
]
