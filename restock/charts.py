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


def _date_axis(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, DateFormatter

    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:,.0f}")


__all__ = [
    "forecast_figure",
    "trend_figure",
    "forecast_svg",
    "trend_svg",
    "to_svg",
    "png_bytes",
    "data_uri",
]
