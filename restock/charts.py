"""Charts for people: plain functions taking pandas frames, returning inline SVG text
(or PNG bytes / a data URI for the same figure).

Why matplotlib rendered to SVG (and no JavaScript chart library):

* nothing to load: an SVG element written into the HTML page needs no script, no CDN
  and no file beside the page, so the daily report renders offline, from a mail
  attachment or a file share, and on a phone;
* small: a weekly line chart is a few kilobytes of path data, no library bundle;
* text stays text (``svg.fonttype: none``): labels are ``<text>`` elements the browser
  draws with its own fonts, so Chinese labels need no font embedded here and stay
  searchable and selectable;
* the same figures render to PNG (``png_bytes``, ``data_uri``) for places that take an
  image rather than markup, e.g. Dagster asset metadata (``MetadataValue.md`` with a
  data URI).

matplotlib is imported inside the functions (the Dagster code location must not load
it at start-up) and only through ``matplotlib.figure.Figure`` with the Agg canvas: no
pyplot state, never a GUI backend, safe in worker processes without a display.
"""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

# The browser picks the first family it has for each character: Latin text in DejaVu
# Sans (what matplotlib measures with), Chinese in whichever CJK font the reader has.
FONT_FAMILIES = [
    "DejaVu Sans",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Micro Hei",
    "sans-serif",
]
ACTUAL_COLOR = "#1f2937"
FORECAST_COLOR = "#2563eb"
PAST_COLOR = "#d97706"
BAND_COLOR = "#93c5fd"
SERIES_COLORS = ["#2563eb", "#16a34a", "#d97706", "#9333ea"]
ALARM_COLOR = "#dc2626"  # out of control, safety stock
REORDER_COLOR = "#d97706"
ORDER_UP_TO_COLOR = "#16a34a"
POSITION_COLOR = "#bfdbfe"

DEFAULT_LABELS = {
    "actual": "actual",
    "forecast": "forecast",
    "interval": "80 % interval",
    "past_forecast": "1-week-ahead forecast",
    "today": "today",
}


@contextmanager
def _style(ident: str) -> Iterator[None]:
    """matplotlib settings of every chart, for building and for saving. ``svg.hashsalt``
    makes the ids (clip paths, markers) the same on every run for the same chart."""
    import matplotlib

    rc: dict[Any, Any] = {  # matplotlib types the keys as a Literal of every rcParam
        "svg.fonttype": "none",
        "svg.hashsalt": ident,
        "font.family": "sans-serif",
        "font.sans-serif": FONT_FAMILIES,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#e5e7eb",
        "grid.linewidth": 0.6,
        "axes.edgecolor": "#9ca3af",
        "xtick.color": "#4b5563",
        "ytick.color": "#4b5563",
        "legend.frameon": False,
        "legend.fontsize": 8,
    }
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        # Chinese glyphs are missing from the fonts matplotlib measures with; the browser draws them.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="findfont")
        yield


def _new_figure(width: float = 6.4, height: float = 2.6) -> Figure:
    """A figure with fixed margins (room for "100,000" tick labels on the left and a
    legend row on top): half the time of constrained layout, which draws every figure
    once more to measure it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # Agg, never a GUI backend
    inch = 72.0  # points
    fig.subplots_adjust(
        left=48 / (width * inch),
        right=1 - 8 / (width * inch),
        bottom=22 / (height * inch),
        top=1 - 22 / (height * inch),
    )
    return fig


# ------------------------------------------------------------------ output formats

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="[^"]*"\s+height="[^"]*"')
_NUMBER = re.compile(r"-?\d+\.\d{2,}")
_GEOMETRY = re.compile(r'\b(d|x|y|points|transform)="([^"]*)"')
_ID = re.compile(r'\sid="([^"]+)"')
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')
_FONT = re.compile(r"font-family: [^;\"]*;?\s*")
_NO_ROTATION = re.compile(r'\stransform="rotate\(-?0 [^"]*\)"')


def to_svg(fig: Figure, ident: str, title: str | None = None) -> str:
    """``fig`` as an ``<svg>`` element to write into an HTML page: no XML prologue, no
    metadata, width 100 % of its container (the viewBox keeps the proportions), the
    font families once on the root element, coordinates rounded to 0.1 pt (invisible on
    screen), ids kept only where referenced (clip paths, markers) or set on purpose
    (``series-*`` gids), each prefixed with ``ident`` (several charts share one page).
    ``title``: the accessible name. About a third of matplotlib's bytes."""
    buf = io.StringIO()
    with _style(ident):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = _METADATA.sub("", _XML_PROLOGUE.sub("", buf.getvalue(), count=1))
    referenced = set(_REFERENCE.findall(text))
    text = _ID.sub(
        lambda m: f' id="{ident}-{m.group(1)}"' if m.group(1) in referenced or m.group(1).startswith("series-") else "",
        text,
    )
    text = _REFERENCE.sub(lambda m: m.group(0)[: -len(m.group(1))] + f"{ident}-{m.group(1)}", text)
    text = _NO_ROTATION.sub("", text)
    text = _FONT.sub("", text)
    text = _GEOMETRY.sub(lambda m: m.group(1) + '="' + " ".join(_NUMBER.sub(_round, m.group(2)).split()) + '"', text)
    text = re.sub(r">\s+<", "><", text)
    text = text.replace("<g></g>", "")
    families = ", ".join(f"'{f}'" if " " in f else f for f in FONT_FAMILIES)
    text = _SIZE.sub(lambda m: f'<svg{m.group(1)} width="100%"', text, count=1)
    label = f' role="img" aria-label="{_escape(title)}"' if title else ' role="img"'
    root = f'<svg class="chart-svg" data-chart="{_escape(ident)}"{label} style="font-family: {families}" '
    text = text.replace("<svg ", root, 1)
    return text.strip() + "\n"


def _round(number: re.Match[str]) -> str:
    return f"{float(number.group(0)):.1f}"


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """``fig`` as PNG bytes (Agg)."""
    buf = io.BytesIO()
    with _style("png"):
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def data_uri(fig: Figure, dpi: int = 110) -> str:
    """``fig`` as a ``data:image/png;base64,...`` URI (e.g. for Markdown metadata)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------ the charts


def forecast_figure(
    actual: pd.DataFrame,
    forecast: pd.DataFrame,
    past: pd.DataFrame | None = None,
    *,
    today: Any = None,
    labels: Mapping[str, str] | None = None,
    ident: str = "forecast",
) -> Figure:
    """Weekly actual demand beside the forecast and its interval band.

    ``actual``: columns week_start, qty (complete weeks). ``forecast``: period_start,
    forecast_qty, lower_qty, upper_qty (the current forecast, weeks ahead). ``past``
    (optional): period_start, forecast_qty, the forecasts made one week before each
    past week. ``today``: a vertical marker at that date. Artists carry gids
    (series-actual, series-forecast, series-past, series-band) so a test can find the
    drawn points in the SVG."""
    import pandas as pd

    words = {**DEFAULT_LABELS, **(labels or {})}
    with _style(ident):
        fig = _new_figure()
        ax = fig.add_subplot()
        if not forecast.empty:
            x = pd.to_datetime(forecast["period_start"])
            band = ax.fill_between(
                x,
                forecast["lower_qty"].astype(float),
                forecast["upper_qty"].astype(float),
                color=BAND_COLOR,
                alpha=0.45,
                linewidth=0,
                label=words["interval"],
            )
            band.set_gid("series-band")
            (line,) = ax.plot(
                x,
                forecast["forecast_qty"].astype(float),
                color=FORECAST_COLOR,
                marker="o",
                markersize=3,
                linewidth=1.6,
                label=words["forecast"],
            )
            line.set_gid("series-forecast")
        if past is not None and not past.empty:
            (line,) = ax.plot(
                pd.to_datetime(past["period_start"]),
                past["forecast_qty"].astype(float),
                color=PAST_COLOR,
                linestyle="--",
                marker="s",
                markersize=2.5,
                linewidth=1.1,
                label=words["past_forecast"],
            )
            line.set_gid("series-past")
        if not actual.empty:
            (line,) = ax.plot(
                pd.to_datetime(actual["week_start"]),
                actual["qty"].astype(float),
                color=ACTUAL_COLOR,
                marker="o",
                markersize=3,
                linewidth=1.6,
                label=words["actual"],
            )
            line.set_gid("series-actual")
        if today is not None:
            ax.axvline(pd.Timestamp(today), color="#9ca3af", linewidth=0.8, linestyle=":")
        ax.set_ylim(bottom=0)
        _date_axis(ax)
        ax.yaxis.set_major_formatter(_thousands())
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", ncols=4, fontsize=7.5, bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
    return fig


def trend_figure(
    frame: pd.DataFrame,
    series: Mapping[str, str] | Sequence[str],
    *,
    x: str = "as_of_date",
    percent: bool = False,
    ident: str = "trend",
) -> Figure:
    """One line per column of ``frame`` over ``x`` (daily KPIs). ``series``: column ->
    legend label (or just columns). ``percent``: values are shares 0..1, shown in %.
    Each line carries the gid ``series-<column>``."""
    import pandas as pd

    named = dict(series) if isinstance(series, Mapping) else {c: c for c in series}
    with _style(ident):
        fig = _new_figure(height=2.3)
        ax = fig.add_subplot()
        dates = pd.to_datetime(frame[x]) if not frame.empty else pd.Series([], dtype="datetime64[ns]")
        for i, (column, label) in enumerate(named.items()):
            values = frame[column].astype(float) * (100 if percent else 1) if not frame.empty else []
            (line,) = ax.plot(
                dates,
                values,
                color=SERIES_COLORS[i % len(SERIES_COLORS)],
                linewidth=1.4,
                label=label,
            )
            line.set_gid(f"series-{column}")
        _date_axis(ax)
        if percent:
            from matplotlib.ticker import FuncFormatter

            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g} %"))
        else:
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(_thousands())
        if len(named) > 1 or not percent:
            ax.legend(loc="lower left", ncols=len(named), bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
    return fig


def tracking_signal_figure(
    frame: pd.DataFrame,
    limit: float,
    *,
    label: str = "key",
    ident: str = "tracking-signal",
) -> Figure:
    """Horizontal bars: the tracking signal of each row of ``frame`` (columns ``label``,
    tracking_signal; the first row on top) against the ±``limit`` lines, the bars
    beyond the limit in red. Bars carry the gids series-within-<i> / series-beyond-<i>."""
    values = frame["tracking_signal"].astype(float).fillna(0.0).tolist() if not frame.empty else []
    names = [str(v) for v in frame[label]] if not frame.empty else []
    rows = len(names)
    with _style(ident):
        fig = _new_figure(height=max(1.6, 0.6 + 0.19 * rows))
        fig.subplots_adjust(left=64 / (6.4 * 72.0))
        ax = fig.add_subplot()
        positions = list(range(rows))[::-1]
        beyond = [abs(v) > limit for v in values]
        for flag, gid, color, name in (
            (False, "series-within", FORECAST_COLOR, f"|signal| <= {limit:g}"),
            (True, "series-beyond", ALARM_COLOR, "out of control"),
        ):
            picked = [i for i in range(rows) if beyond[i] == flag]
            bars = ax.barh(
                [positions[i] for i in picked], [values[i] for i in picked], color=color, height=0.62, label=name
            )
            _bar_gids(bars, gid)
        for side in (-limit, limit):
            ax.axvline(side, color=ALARM_COLOR, linewidth=0.9, linestyle="--")
        ax.axvline(0, color="#6b7280", linewidth=0.6)
        ax.set_yticks(positions, names, fontsize=7.5)
        ax.grid(axis="y", visible=False)
        reach = max([abs(v) for v in values] + [limit]) * 1.12
        ax.set_xlim(-reach, reach)
        ax.legend(loc="lower left", ncols=2, fontsize=7.5, bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
    return fig


def limit_trend_figure(
    frame: pd.DataFrame,
    column: str,
    limit: float,
    *,
    x: str = "review_date",
    label: str | None = None,
    ident: str = "limit-trend",
) -> Figure:
    """One line of ``column`` over ``x`` (e.g. the total's tracking signal per review)
    inside the ±``limit`` band, the points beyond it in red. The line carries the gid
    ``series-<column>``."""
    import pandas as pd

    with _style(ident):
        fig = _new_figure(height=2.3)
        ax = fig.add_subplot()
        ax.axhspan(-limit, limit, color="#f3f4f6", linewidth=0)
        for side in (-limit, limit):
            ax.axhline(side, color=ALARM_COLOR, linewidth=0.9, linestyle="--")
        ax.axhline(0, color="#6b7280", linewidth=0.6)
        values = frame[column].astype(float) if not frame.empty else pd.Series([], dtype=float)
        dates = pd.to_datetime(frame[x]) if not frame.empty else pd.Series([], dtype="datetime64[ns]")
        (line,) = ax.plot(
            dates, values, color=FORECAST_COLOR, marker="o", markersize=3, linewidth=1.4, label=label or column
        )
        line.set_gid(f"series-{column}")
        out = values.abs() > limit
        if out.any():
            ax.plot(dates[out], values[out], linestyle="none", marker="o", markersize=4.5, color=ALARM_COLOR)
        reach = max([float(values.abs().max()) if len(values) else 0.0, limit]) * 1.15
        ax.set_ylim(-reach, reach)
        _date_axis(ax)
        ax.legend(loc="lower left", fontsize=7.5, bbox_to_anchor=(0, 1.0), borderaxespad=0.2)
    return fig


STOCK_MARKS = {  # column -> (legend label, colour, marker, size); drawn in this order
    "order_up_to": ("order-up-to", ORDER_UP_TO_COLOR, "|", 13),
    "reorder_point": ("reorder point", REORDER_COLOR, "|", 7),  # on top: often equal to order-up-to
    "safety_stock": ("safety stock", ALARM_COLOR, "|", 11),
    "on_hand_qty": ("on hand", ACTUAL_COLOR, "o", 5),
}


def stock_position_figure(
    frame: pd.DataFrame,
    *,
    label: str = "label",
    unit: str = "days of mean daily demand",
    ident: str = "stock-position",
) -> Figure:
    """One row per row of ``frame`` (the first on top): a bar for inventory_position and
    marks for on_hand_qty, safety_stock, reorder_point and order_up_to, all in one unit
    (``unit``: the x axis label; e.g. each divided by the mean daily demand, so SKUs of
    any size share the axis). Marks carry gids series-<column>, bars
    series-inventory_position-<i>."""
    names = [str(v) for v in frame[label]] if not frame.empty else []
    rows = len(names)
    positions = list(range(rows))[::-1]
    with _style(ident):
        fig = _new_figure(height=max(2.0, 1.0 + 0.24 * rows))
        height = fig.get_figheight() * 72.0
        fig.subplots_adjust(left=96 / (6.4 * 72.0), bottom=30 / height, top=1 - 34 / height)
        ax = fig.add_subplot()
        if rows:
            bars = ax.barh(
                positions,
                frame["inventory_position"].astype(float).fillna(0.0).tolist(),
                color=POSITION_COLOR,
                height=0.6,
                label="inventory position",
            )
            _bar_gids(bars, "series-inventory_position")
            for column, (name, color, marker, size) in STOCK_MARKS.items():
                (marks,) = ax.plot(
                    frame[column].astype(float).tolist(),
                    positions,
                    linestyle="none",
                    marker=marker,
                    markersize=size,
                    markeredgewidth=2,
                    color=color,
                    label=name,
                )
                marks.set_gid(f"series-{column}")
        ax.set_yticks(positions, names, fontsize=7.5)
        ax.grid(axis="y", visible=False)
        ax.set_xlim(left=0)
        ax.set_xlabel(unit, fontsize=7.5)
        handles, names = ax.get_legend_handles_labels()
        order = ["inventory position", "on hand", "safety stock", "reorder point", "order-up-to"]
        ranked = sorted(zip(handles, names, strict=True), key=lambda hn: order.index(hn[1]))
        if ranked:
            ax.legend(
                [h for h, _ in ranked],
                [n for _, n in ranked],
                loc="lower left",
                ncols=3,
                fontsize=7,
                bbox_to_anchor=(0, 1.0),
                borderaxespad=0.2,
            )
    return fig


def projection_figure(
    frame: pd.DataFrame,
    *,
    label: str = "label",
    columns: int = 4,
    ident: str = "projection",
) -> Figure:
    """Small multiples, one panel per row of ``frame``: on_hand_qty projected over
    lead_time_days at daily_demand_mean (no receipts, floored at 0) against the
    safety_stock and reorder_point lines. Each panel's own y scale; the projection lines
    carry the gid series-projection."""
    import numpy as np

    rows = max(1, -(-len(frame) // columns))
    with _style(ident):
        fig = _new_figure(width=7.2, height=0.5 + 1.45 * rows)
        fig.subplots_adjust(
            left=0.05,
            right=0.99,
            bottom=0.08 if rows > 1 else 0.14,
            top=1 - 0.4 / fig.get_figheight(),
            hspace=0.55,
            wspace=0.32,
        )
        axes = fig.subplots(rows, columns, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= len(frame):
                ax.set_visible(False)
                continue
            r = frame.iloc[i]
            lead = float(r["lead_time_days"])
            days = lead if lead >= 1 else 1.0  # at least a day (also for a missing lead time)
            t = np.linspace(0.0, days, 24)
            on_hand = np.maximum(float(r["on_hand_qty"]) - float(r["daily_demand_mean"]) * t, 0.0)
            (line,) = ax.plot(t, on_hand, color=ACTUAL_COLOR, linewidth=1.4, label="on hand, projected")
            line.set_gid("series-projection")
            for column, color, style, name in (
                ("safety_stock", ALARM_COLOR, "--", "safety stock"),
                ("reorder_point", REORDER_COLOR, ":", "reorder point"),
            ):
                level = float(r[column])
                if np.isfinite(level):  # a missing level is left out, not a failed chart
                    ax.axhline(level, color=color, linewidth=1, linestyle=style, label=name)
            ax.set_title(str(r[label]), fontsize=7.5, pad=2)
            ax.tick_params(labelsize=6.5, pad=1)
            ax.set_xlim(0, days)
            ax.set_ylim(bottom=0)
            ax.yaxis.set_major_formatter(_quantity())
            ax.xaxis.set_major_formatter(_days())
        handles, names = max((ax.get_legend_handles_labels() for ax in axes.flat), key=lambda hn: len(hn[0]))
        if handles:
            fig.legend(handles, names, loc="upper left", ncols=3, fontsize=7, bbox_to_anchor=(0.04, 1.0))
    return fig


def forecast_svg(
    actual: pd.DataFrame,
    forecast: pd.DataFrame,
    past: pd.DataFrame | None = None,
    *,
    today: Any = None,
    labels: Mapping[str, str] | None = None,
    ident: str = "forecast",
    title: str | None = None,
) -> str:
    """``forecast_figure`` as inline SVG text."""
    return to_svg(forecast_figure(actual, forecast, past, today=today, labels=labels, ident=ident), ident, title)


def trend_svg(
    frame: pd.DataFrame,
    series: Mapping[str, str] | Sequence[str],
    *,
    x: str = "as_of_date",
    percent: bool = False,
    ident: str = "trend",
    title: str | None = None,
) -> str:
    """``trend_figure`` as inline SVG text."""
    return to_svg(trend_figure(frame, series, x=x, percent=percent, ident=ident), ident, title)


def _bar_gids(bars: Any, gid: str) -> None:
    """Gids ``<gid>-<i>`` on the bars of a ``barh`` (a container has no gid of its own)."""
    for i, patch in enumerate(bars):
        patch.set_gid(f"{gid}-{i}")


def _date_axis(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, DateFormatter

    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")


def _quantity() -> Any:
    """1,234 for quantities of 10 and more, 2 significant digits below (0.05)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:.2g}")


def _days() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:g} d")


__all__ = [
    "forecast_figure",
    "trend_figure",
    "tracking_signal_figure",
    "limit_trend_figure",
    "stock_position_figure",
    "projection_figure",
    "forecast_svg",
    "trend_svg",
    "to_svg",
    "png_bytes",
    "data_uri",
]
