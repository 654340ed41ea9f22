"""The daily HTML report: one self-contained page per published day, for planners and
managers, at ``RESTOCK_DATA_DIR/published/report/<day>.html`` (``report_latest.html``
beside it is a copy of the newest day's page).

Built by ``restock.publish.gated_publish.publish_days`` right after a day is published,
from the warehouse connection: the day's rows of the analytics tables (what was just
published) and, for the history in the charts, rows dated on or before the day, never
after. Sections:

1. KPI tiles (analytics.kpis, level total, one row of tiles per window), each with its
   change against the same tile 7 days earlier ("—" when that day has no row);
2. the purchase orders to place today (replenishment_plan, recommended_order_qty > 0,
   biggest first, value = quantity × unit cost);
3. the alerts by severity (inventory_alerts, high first);
4. rationing: the SKUs whose customer suggestions were cut (allocation_rule other than
   unconstrained) and who got what by tier (tier from customer_segments of the day);
5. the replay verdict (replenishment_replay, total row) in one sentence;
6. forecast against actual for the total and the 5 SKUs with the most demand: the
   complete weeks of accuracy.window_weeks (marts.customer_sku_weekly_demand, the
   quantity forecasting.quantity names), the forecasts made one week before each of
   those weeks (demand_forecasts of earlier days, horizon 1), and the day's forecast
   with its interval band;
7. the accuracy review (forecast_accuracy: the total by horizon, the top SKUs);
8. KPI trends over the last 13 weeks (kpis, total, the shortest window).

The page has no script and loads no file: inline CSS and inline SVG charts
(``restock.charts``), a viewport meta tag, tiles in a responsive grid and tables that
scroll sideways on a phone. Labels come from ``LABELS`` in the language of restock.yaml
``report.language``.

serving.duckdb lists the reports in view ``daily_reports`` (as_of_date, path, is_latest).
A day unpublished by retention loses its report; a day whose report fails to build is
published all the same (the error is logged) and loses its previous report.

Rebuild a day's report by hand (e.g. after a failure was logged)::

    python -m restock.publish.daily_report --day 2025-12-31

docs/report.png is the top of the demo's report (read-only on a copy of a demo warehouse)::

    python -m restock.publish.daily_report --warehouse W.duckdb --day 2025-12-31 --out /tmp/report.html
    python scripts/report_browser.py /tmp/report.html --screenshot docs/report.png --max-height 3300
"""

from __future__ import annotations

import argparse
import html
import logging
import math
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restock.config import RestockConfig
from restock.publish.paths import REPORT_LATEST, fsync_dir, report_days, report_dir, report_path

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

log = logging.getLogger(__name__)

TOP_SKUS = 5  # SKUs with a forecast chart of their own, by demand over the charted weeks
TOP_ACCURACY_SKUS = 10  # SKUs in the accuracy table
TREND_DAYS = 91  # 13 weeks of daily KPI rows in the trend charts
COMPARE_DAYS = 7  # tiles are compared with the same tile this many days earlier
DASH = "—"

# ------------------------------------------------------------------ labels

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "title": "Restock daily report",
        "as_of": "as of",
        "built": "built",
        "kpis": "Key figures",
        "window": "last {n} weeks",
        "window_1": "last week",
        "vs": "vs {day}",
        "quantity_fill_rate": "Quantity fill rate",
        "line_fill_rate": "Line fill rate",
        "stockout_days": "Stockout days",
        "inventory_value": "Inventory value",
        "inventory_turnover": "Turnover (×/year)",
        "days_of_supply": "Days of supply",
        "achieved_service_level": "Service level",
        "target": "target {value}",
        "forecast_wape": "Forecast WAPE",
        "forecast_bias": "Forecast bias",
        "pt": "pt",
        "days_unit": "d",
        "orders": "Purchase orders to place today",
        "orders_summary": "{n} orders, {qty} cartons, value {value}",
        "no_orders": "No purchase order to place today.",
        "warehouse": "Warehouse",
        "sku": "SKU",
        "abc": "ABC",
        "order_qty": "Order qty",
        "cases": "Cases",
        "unit_cost": "Unit cost",
        "value": "Value",
        "position": "Position",
        "order_up_to": "Order-up-to",
        "alerts": "Alerts",
        "no_alerts": "No alert today.",
        "severity": "Severity",
        "high": "high",
        "medium": "medium",
        "low": "low",
        "alert_type": "Alert",
        "alert_value": "Value",
        "threshold": "Limit",
        "on_hand": "On hand",
        "detail": "Detail",
        "rationing": "Rationed SKUs",
        "no_rationing": "Every customer suggestion is covered by the available stock today: no SKU is rationed.",
        "rationing_summary": "{n} SKU(s) rationed: {allocated} of {suggested} cartons suggested are allocated.",
        "rule": "Rule",
        "customers": "Customers",
        "suggested": "Suggested",
        "allocated": "Allocated",
        "allocated_share": "Allocated %",
        "by_tier": "Who gets what, by tier",
        "tier": "Tier",
        "replay": "The plan replayed",
        "no_replay": "No replay of the plan for this day.",
        "replay_sentence": (
            "Over the last {weeks} weeks, following the plan would have held {change} stock "
            "at a fill rate of {plan} (actual {actual})."
        ),
        "less": "{pct} less",
        "more": "{pct} more",
        "same": "the same",
        "plan": "Plan",
        "actual_col": "Actual",
        "fill_rate": "Fill rate",
        "avg_on_hand": "Average on hand",
        "avg_inventory_value": "Average inventory value",
        "plan_orders": "Purchase orders",
        "forecasts": "Forecast against actual demand",
        "forecasts_note": (
            "Weekly demand of the last {weeks} complete weeks, the forecast made one week before each of them, "
            "and today's forecast with its 80 % interval."
        ),
        "total": "Total",
        "actual": "actual",
        "forecast": "forecast",
        "interval": "80 % interval",
        "past_forecast": "1-week-ahead forecast",
        "today": "today",
        "accuracy": "Forecast accuracy",
        "accuracy_note": "Review of {date}: the last {weeks} complete weeks.",
        "no_accuracy": "No accuracy review yet.",
        "horizon": "Horizon (weeks)",
        "weeks": "Weeks",
        "actual_qty": "Actual",
        "forecast_qty": "Forecast",
        "wape": "WAPE",
        "bias": "Bias",
        "tracking_signal": "Tracking signal",
        "coverage": "In 80 % interval",
        "out_of_control": "Out of control",
        "yes": "yes",
        "no": "no",
        "top_skus_accuracy": "SKUs with the most demand, 1 week ahead",
        "trends": "KPI trends, last 13 weeks",
        "trend_fill": "Fill rate (trailing week)",
        "trend_stock": "Stock on hand (cartons)",
        "on_hand_qty": "on hand",
        "avg_on_hand_qty": "week's average",
        "no_data": "No data.",
        "footer": "Restock. Definitions of every figure: docs/tables.md. Charts need no network.",
        "currency": "¥",
    },
    "zh": {
        "html_lang": "zh-CN",
        "title": "Restock 每日报告",
        "as_of": "数据日期",
        "built": "生成于",
        "kpis": "关键指标",
        "window": "近 {n} 周",
        "window_1": "近 1 周",
        "vs": "对比 {day}",
        "quantity_fill_rate": "订单满足率（数量）",
        "line_fill_rate": "订单行满足率",
        "stockout_days": "缺货天数",
        "inventory_value": "库存金额",
        "inventory_turnover": "库存周转率（次/年）",
        "days_of_supply": "库存可供天数",
        "achieved_service_level": "服务水平",
        "target": "目标 {value}",
        "forecast_wape": "预测误差 WAPE",
        "forecast_bias": "预测偏差",
        "pt": "个百分点",
        "days_unit": "天",
        "orders": "今日应下采购单",
        "orders_summary": "{n} 张采购单，共 {qty} 条，金额 {value}",
        "no_orders": "今日无需下采购单。",
        "warehouse": "仓库",
        "sku": "商品",
        "abc": "ABC",
        "order_qty": "建议采购量",
        "cases": "件数",
        "unit_cost": "单位成本",
        "value": "金额",
        "position": "库存头寸",
        "order_up_to": "目标库存",
        "alerts": "库存预警",
        "no_alerts": "今日无预警。",
        "severity": "级别",
        "high": "高",
        "medium": "中",
        "low": "低",
        "alert_type": "预警类型",
        "alert_value": "数值",
        "threshold": "阈值",
        "on_hand": "在库",
        "detail": "说明",
        "rationing": "货源投放（限量分配）",
        "no_rationing": "今日可用库存满足全部客户建议订量：无限量分配的商品。",
        "rationing_summary": "{n} 个商品限量分配：建议 {suggested} 条，分配 {allocated} 条。",
        "rule": "分配规则",
        "customers": "客户数",
        "suggested": "建议订量",
        "allocated": "分配量",
        "allocated_share": "分配比例",
        "by_tier": "按档位的分配结果",
        "tier": "档位",
        "replay": "补货计划回放",
        "no_replay": "当日无补货计划回放。",
        "replay_sentence": "过去 {weeks} 周若按计划补货，平均库存将{change}，订单满足率为 {plan}（实际 {actual}）。",
        "less": "减少 {pct}",
        "more": "增加 {pct}",
        "same": "持平",
        "plan": "按计划",
        "actual_col": "实际",
        "fill_rate": "订单满足率",
        "avg_on_hand": "平均在库量",
        "avg_inventory_value": "平均库存金额",
        "plan_orders": "采购单数",
        "forecasts": "预测与实际需求",
        "forecasts_note": "近 {weeks} 个完整周的每周需求、每周提前一周做出的预测，以及今日预测及其 80% 区间。",
        "total": "合计",
        "actual": "实际",
        "forecast": "预测",
        "interval": "80% 区间",
        "past_forecast": "提前一周的预测",
        "today": "今日",
        "accuracy": "预测准确度",
        "accuracy_note": "{date} 的评估：近 {weeks} 个完整周。",
        "no_accuracy": "暂无准确度评估。",
        "horizon": "预测提前期（周）",
        "weeks": "周数",
        "actual_qty": "实际",
        "forecast_qty": "预测",
        "wape": "WAPE",
        "bias": "偏差",
        "tracking_signal": "跟踪信号",
        "coverage": "落入 80% 区间",
        "out_of_control": "失控",
        "yes": "是",
        "no": "否",
        "top_skus_accuracy": "需求最大的商品（提前 1 周）",
        "trends": "指标趋势（近 13 周）",
        "trend_fill": "订单满足率（滚动 1 周）",
        "trend_stock": "在库量（条）",
        "on_hand_qty": "在库量",
        "avg_on_hand_qty": "周平均",
        "no_data": "无数据。",
        "footer": "Restock。各指标定义见 docs/tables.md。图表无需联网。",
        "currency": "¥",
    },
}
SEVERITIES = ("high", "medium", "low")


# ------------------------------------------------------------------ formatting


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def _number(value: Any) -> float | None:
    """``value`` as a float; None when missing (None, NaN, NA)."""
    return None if _missing(value) else float(value)


def _attr(value: Any) -> str:
    """A number for a data-* attribute: its full repr, "" when missing."""
    number = _number(value)
    return "" if number is None else repr(number)


def fmt_number(value: Any, digits: int = 0) -> str:
    """1,234 (``digits`` decimals); "—" when missing, ∞ when infinite."""
    if _missing(value):
        return DASH
    number = float(value)
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:,.{digits}f}"


def fmt_share(value: Any, digits: int = 1, signed: bool = False) -> str:
    """0.984 -> "98.4 %"."""
    if _missing(value):
        return DASH
    return f"{float(value) * 100:{'+' if signed else ''}.{digits}f} %"


def fmt_money(value: Any, words: Mapping[str, str]) -> str:
    if _missing(value):
        return DASH
    return f"{words['currency']}{float(value):,.0f}"


@dataclass(frozen=True)
class TileSpec:
    metric: str  # analytics.kpis column
    kind: str  # share | count | money | number | days | bias
    better: str | None  # up | down | zero (closer to 0 is better) | None
    windows: str = "all"  # all | longest (forecast accuracy exists on the longest window only)


TILES = (
    TileSpec("quantity_fill_rate", "share", "up"),
    TileSpec("line_fill_rate", "share", "up"),
    TileSpec("stockout_days", "count", "down"),
    TileSpec("inventory_value", "money", None),
    TileSpec("inventory_turnover", "number", "up"),
    TileSpec("days_of_supply", "days", None),
    TileSpec("achieved_service_level", "share", "up"),
    TileSpec("forecast_wape", "share", "down", "longest"),
    TileSpec("forecast_bias", "bias", "zero", "longest"),
)


def tile_text(kind: str, value: Any, words: Mapping[str, str]) -> str:
    """How a tile shows its value."""
    if kind == "share":
        return fmt_share(value)
    if kind == "bias":
        return fmt_share(value, signed=True)
    if kind == "count":
        return fmt_number(value)
    if kind == "money":
        return fmt_money(value, words)
    if kind == "days":
        text = fmt_number(value, 1)
        return text if text == DASH else f"{text} {words['days_unit']}"
    return fmt_number(value, 1)


def delta_text(kind: str, value: Any, previous: Any, words: Mapping[str, str]) -> str:
    """The change against ``previous``: percentage points for shares, a relative change
    for money, a difference otherwise; "—" when either is missing."""
    if _missing(value) or _missing(previous):
        return DASH
    now, before = float(value), float(previous)
    if math.isinf(now) or math.isinf(before):
        return DASH
    if kind in ("share", "bias"):
        return f"{(now - before) * 100:+.1f} {words['pt']}"
    if kind == "money":
        return f"{(now / before - 1) * 100:+.1f} %" if before else DASH
    if kind == "count":
        return f"{now - before:+,.0f}"
    return f"{now - before:+,.1f}"


def _trend_class(spec: TileSpec, value: Any, previous: Any) -> str:
    if spec.better is None or _missing(value) or _missing(previous):
        return "flat"
    now, before = float(value), float(previous)
    if spec.better == "zero":
        now, before = -abs(now), -abs(before)
    elif spec.better == "down":
        now, before = -now, -before
    if math.isclose(now, before, rel_tol=1e-9, abs_tol=1e-12):
        return "flat"
    return "good" if now > before else "bad"


# ------------------------------------------------------------------ HTML pieces


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]], cls: str = "", tall: bool = False) -> str:
    """A table in a box that scrolls sideways (and, ``tall``, down past ~15 rows, its
    header kept in view). ``headers``: (label, "l" | "r")."""
    head = "".join(f'<th class="{a}">{_e(h)}</th>' for h, a in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{a}">{_e(v)}</td>' for (_, a), v in zip(headers, row, strict=True)) + "</tr>"
        for row in rows
    )
    box = "scroll tall" if tall else "scroll"
    return f'<div class="{box}"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{_e(title)}</h2>{body}</section>'


def _p(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{_e(text)}</p>' if cls else f"<p>{_e(text)}</p>"


CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans CJK SC","PingFang SC",
"Microsoft YaHei",sans-serif;color:#111827;background:#f3f4f6;line-height:1.45;font-size:15px}
main{max-width:1180px;margin:0 auto;padding:12px}
header{padding:14px 12px 4px;max-width:1180px;margin:0 auto}
h1{font-size:1.35rem;margin:0}
.sub{color:#6b7280;font-size:.85rem;margin:2px 0 0}
section{background:#fff;border-radius:10px;padding:12px 14px;margin:12px 0;box-shadow:0 1px 2px rgba(0,0,0,.06)}
h2{font-size:1.1rem;margin:0 0 8px}
h3{font-size:.95rem;margin:12px 0 6px;color:#374151}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin-bottom:10px}
.tile{border:1px solid #e5e7eb;border-radius:8px;padding:8px 10px;background:#fafafa}
.tile .label{font-size:.78rem;color:#4b5563}
.tile .value{font-size:1.3rem;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.tile .note{font-size:.75rem;color:#6b7280}
.tile .delta{font-size:.78rem;white-space:nowrap}
.good{color:#15803d}.bad{color:#b91c1c}.flat{color:#6b7280}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
.tall{max-height:30em;overflow-y:auto;border:1px solid #e5e7eb;border-radius:6px}
table{border-collapse:collapse;font-size:.85rem;white-space:nowrap;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb}
th{background:#f9fafb;font-weight:600;text-align:left;position:sticky;top:0}
td.r,th.r{text-align:right}
.verdict{font-size:1.05rem;font-weight:500}
.chips span{display:inline-block;border-radius:999px;padding:2px 10px;margin:0 6px 6px 0;font-size:.85rem}
.sev-high{background:#fee2e2;color:#991b1b}.sev-medium{background:#fef3c7;color:#92400e}
.sev-low{background:#e0f2fe;color:#075985}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,440px),1fr));gap:12px}
figure{margin:0}figcaption{font-size:.9rem;font-weight:600;margin-bottom:2px}
svg.chart-svg{display:block;width:100%;height:auto}
footer{color:#6b7280;font-size:.75rem;text-align:center;padding:12px}
"""


# ------------------------------------------------------------------ the data


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _kpi_tiles(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    columns = sorted({t.metric for t in TILES} | {"target_service_level"})
    frame = _df(
        con,
        f"""select as_of_date, window_weeks, {", ".join(f"cast({c} as double) as {c}" for c in columns)}
            from analytics.kpis where level = 'total' and as_of_date in (?, ?)""",
        [day, day - timedelta(days=COMPARE_DAYS)],
    )
    if frame.empty:
        return _p(words["no_data"], "sub")
    frame["as_of_date"] = [d.date() if hasattr(d, "date") else d for d in frame["as_of_date"]]
    rows = {(r.as_of_date, int(r.window_weeks)): r for r in frame.itertuples(index=False)}
    windows = sorted({w for d, w in rows if d == day}, reverse=True)
    before = day - timedelta(days=COMPARE_DAYS)
    parts = []
    for weeks in windows:
        now, then = rows[(day, weeks)], rows.get((before, weeks))
        tiles = []
        for spec in TILES:
            if spec.windows == "longest" and weeks != windows[0]:
                continue
            value = getattr(now, spec.metric)
            previous = getattr(then, spec.metric) if then is not None else None
            note = ""
            if spec.metric == "achieved_service_level":
                note = (
                    f'<div class="note">{_e(words["target"].format(value=fmt_share(now.target_service_level)))}</div>'
                )
            tiles.append(
                f'<div class="tile" data-metric="{spec.metric}" data-window="{weeks}" '
                f'data-value="{_attr(value)}" data-previous="{_attr(previous)}">'
                f'<div class="label">{_e(words[spec.metric])}</div>'
                f'<div class="value">{_e(tile_text(spec.kind, value, words))}</div>{note}'
                f'<div class="delta {_trend_class(spec, value, previous)}" '
                f'title="{_e(words["vs"].format(day=before.isoformat()))}">'
                f"{_e(delta_text(spec.kind, value, previous, words))}</div></div>"
            )
        title = words["window_1"] if weeks == 1 else words["window"].format(n=weeks)
        parts.append(
            f'<h3>{_e(title)} <span class="sub">({_e(words["vs"].format(day=before.isoformat()))})</span></h3>'
        )
        parts.append(f'<div class="tiles" data-window="{weeks}">{"".join(tiles)}</div>')
    return "".join(parts)


def _orders(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    frame = _df(
        con,
        """select warehouse_id, sku, abc_class, recommended_order_qty,
                  recommended_order_qty / nullif(units_per_case, 0) as cases,
                  cast(unit_cost as double) as unit_cost,
                  recommended_order_qty * cast(unit_cost as double) as value,
                  inventory_position, order_up_to, days_of_supply
           from analytics.replenishment_plan
           where as_of_date = ? and recommended_order_qty > 0
           order by recommended_order_qty desc, value desc, warehouse_id, sku""",
        [day],
    )
    if frame.empty:
        return _p(words["no_orders"])
    summary = words["orders_summary"].format(
        n=f"{len(frame):,}",
        qty=fmt_number(frame["recommended_order_qty"].sum()),
        value=fmt_money(frame["value"].sum(min_count=1), words),
    )
    headers = [
        (words["warehouse"], "l"),
        (words["sku"], "l"),
        (words["abc"], "l"),
        (words["order_qty"], "r"),
        (words["cases"], "r"),
        (words["unit_cost"], "r"),
        (words["value"], "r"),
        (words["position"], "r"),
        (words["order_up_to"], "r"),
        (words["days_of_supply"], "r"),
    ]
    rows = [
        (
            r.warehouse_id,
            r.sku,
            r.abc_class or DASH,
            fmt_number(r.recommended_order_qty),
            fmt_number(r.cases, 1),
            fmt_number(r.unit_cost, 2),
            fmt_number(r.value),
            fmt_number(r.inventory_position),
            fmt_number(r.order_up_to),
            fmt_number(r.days_of_supply, 1),
        )
        for r in frame.itertuples(index=False)
    ]
    return _p(summary) + _table(headers, rows, "orders", tall=True)


def _alerts(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    frame = _df(
        con,
        """select severity, alert_type, warehouse_id, sku, value, threshold, on_hand_qty, detail
           from analytics.inventory_alerts where as_of_date = ?
           order by case severity when 'high' then 0 when 'medium' then 1 when 'low' then 2 else 3 end,
                    alert_type, warehouse_id, sku""",
        [day],
    )
    if frame.empty:
        return _p(words["no_alerts"])
    counts = frame["severity"].value_counts()
    severities = [s for s in SEVERITIES if s in counts] + sorted(set(counts.index) - set(SEVERITIES))
    chips = "".join(
        f'<span class="sev-{_e(s)}" data-severity="{_e(s)}">{_e(words.get(s, s))}: {int(counts[s])}</span>'
        for s in severities
    )
    headers = [
        (words["alert_type"], "l"),
        (words["warehouse"], "l"),
        (words["sku"], "l"),
        (words["alert_value"], "r"),
        (words["threshold"], "r"),
        (words["on_hand"], "r"),
        (words["detail"], "l"),
    ]
    blocks = []
    for severity in severities:
        part = frame[frame["severity"] == severity]
        rows = [
            (
                r.alert_type,
                r.warehouse_id,
                r.sku,
                fmt_number(r.value, 1),
                fmt_number(r.threshold, 1),
                fmt_number(r.on_hand_qty),
                r.detail,
            )
            for r in part.itertuples(index=False)
        ]
        is_open = " open" if severity == severities[0] else ""
        blocks.append(
            f'<details{is_open} data-severity="{_e(severity)}"><summary>{_e(words.get(severity, severity))} '
            f"({len(part)})</summary>{_table(headers, rows, 'alerts', tall=True)}</details>"
        )
    return f'<div class="chips">{chips}</div>' + "".join(blocks)


def _rationing(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    skus = _df(
        con,
        """select warehouse_id, sku, string_agg(distinct allocation_rule, ', ') as rule,
                  count(*) as customers, sum(suggested_qty) as suggested, sum(allocated_qty) as allocated
           from analytics.customer_order_suggestions
           where as_of_date = ? and allocation_rule <> 'unconstrained'
           group by warehouse_id, sku
           order by sum(suggested_qty) - sum(allocated_qty) desc, warehouse_id, sku""",
        [day],
    )
    if skus.empty:
        return _p(words["no_rationing"])
    tiers = _df(
        con,
        """select s.tier, count(distinct o.customer_id) as customers,
                  sum(o.suggested_qty) as suggested, sum(o.allocated_qty) as allocated
           from analytics.customer_order_suggestions o
           left join analytics.customer_segments s on s.customer_id = o.customer_id and s.as_of_date = o.as_of_date
           where o.as_of_date = ? and o.allocation_rule <> 'unconstrained'
           group by s.tier order by s.tier nulls first""",
        [day],
    )
    summary = words["rationing_summary"].format(
        n=len(skus), suggested=fmt_number(skus["suggested"].sum()), allocated=fmt_number(skus["allocated"].sum())
    )

    def share(allocated: Any, suggested: Any) -> str:
        return fmt_share(float(allocated) / float(suggested)) if not _missing(suggested) and suggested else DASH

    sku_table = _table(
        [
            (words["warehouse"], "l"),
            (words["sku"], "l"),
            (words["rule"], "l"),
            (words["customers"], "r"),
            (words["suggested"], "r"),
            (words["allocated"], "r"),
            (words["allocated_share"], "r"),
        ],
        [
            (
                r.warehouse_id,
                r.sku,
                r.rule,
                fmt_number(r.customers),
                fmt_number(r.suggested),
                fmt_number(r.allocated),
                share(r.allocated, r.suggested),
            )
            for r in skus.itertuples(index=False)
        ],
        "rationed",
    )
    tier_table = _table(
        [
            (words["tier"], "r"),
            (words["customers"], "r"),
            (words["suggested"], "r"),
            (words["allocated"], "r"),
            (words["allocated_share"], "r"),
        ],
        [
            (
                DASH if _missing(r.tier) else int(r.tier),
                fmt_number(r.customers),
                fmt_number(r.suggested),
                fmt_number(r.allocated),
                share(r.allocated, r.suggested),
            )
            for r in tiers.itertuples(index=False)
        ],
        "tiers",
        tall=True,
    )
    return _p(summary) + sku_table + f"<h3>{_e(words['by_tier'])}</h3>" + tier_table


def replay_sentence(row: Mapping[str, Any], words: Mapping[str, str]) -> str:
    """The verdict of the replay's total row, e.g. "... would have held 8 % less stock
    at a fill rate of 97.9 % (actual 98.4 %)"."""
    change = _number(row.get("avg_on_hand_change"))
    if change is None:
        change_text = DASH
    elif round(abs(change) * 100) == 0:
        change_text = words["same"]
    else:
        change_text = words["less" if change < 0 else "more"].format(pct=f"{abs(change) * 100:.0f} %")
    return words["replay_sentence"].format(
        weeks=row.get("replay_weeks"),
        change=change_text,
        plan=fmt_share(row.get("plan_fill_rate")),
        actual=fmt_share(row.get("actual_fill_rate")),
    )


def _replay(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    frame = _df(con, "select * from analytics.replenishment_replay where as_of_date = ? and level = 'total'", [day])
    if frame.empty:
        return _p(words["no_replay"])
    row = frame.iloc[0].to_dict()
    rows = [
        (words["fill_rate"], fmt_share(row["plan_fill_rate"]), fmt_share(row["actual_fill_rate"])),
        (words["stockout_days"], fmt_number(row["plan_stockout_days"]), fmt_number(row["actual_stockout_days"])),
        (words["avg_on_hand"], fmt_number(row["plan_avg_on_hand_qty"]), fmt_number(row["actual_avg_on_hand_qty"])),
        (
            words["avg_inventory_value"],
            fmt_money(row["plan_avg_inventory_value"], words),
            fmt_money(row["actual_avg_inventory_value"], words),
        ),
        (words["plan_orders"], fmt_number(row["plan_orders"]), DASH),
    ]
    table = _table([("", "l"), (words["plan"], "r"), (words["actual_col"], "r")], rows, "replay")
    return f'<p class="verdict">{_e(replay_sentence(row, words))}</p>' + table


def _last_complete_monday(day: date) -> date:
    """Monday of the last Monday-Sunday week complete on ``day``."""
    sunday = day - timedelta(days=day.isoweekday() % 7)
    return sunday - timedelta(days=6)


@dataclass(frozen=True)
class ForecastFrames:
    """What a forecast-against-actual chart draws, for the total and the top SKUs (also
    the Dagster asset page's charts, restock/asset_charts.py)."""

    keys: list[str]  # "" (the total), then the top SKUs by demand over the charted weeks
    demand: pd.DataFrame  # sku, week_start, qty: the complete weeks charted
    current: pd.DataFrame  # sku ("" = total), period_start, forecast_qty, lower_qty, upper_qty: the day's forecast
    past: pd.DataFrame  # sku, period_start, forecast_qty: the forecast made one week before each charted week
    weeks: int  # accuracy.window_weeks

    def actual(self, key: str) -> pd.DataFrame:
        """week_start, qty of ``key`` ("" = the total), by week."""
        if key == "":
            frame = (
                self.demand.groupby("week_start", as_index=False)["qty"].sum() if not self.demand.empty else self.demand
            )
        else:
            frame = self.demand[self.demand["sku"] == key][["week_start", "qty"]]
        return frame.sort_values("week_start")

    def forecast(self, key: str) -> pd.DataFrame:
        return self.current[self.current["sku"] == key]

    def past_forecast(self, key: str) -> pd.DataFrame:
        return self.past[self.past["sku"] == key]


def forecast_frames(
    con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, top_skus: int = TOP_SKUS
) -> ForecastFrames:
    """The complete weeks of accuracy.window_weeks up to ``day`` (weekly demand in the
    quantity forecasting.quantity names), the ``top_skus`` SKUs with the most demand over
    them, the day's forecasts and the 1-week-ahead forecasts of those weeks; rows dated
    on or before ``day`` only."""
    weeks = config.accuracy.window_weeks
    last = _last_complete_monday(day)
    first = last - timedelta(weeks=weeks - 1)
    quantity = config.forecasting.quantity  # requested_qty | ordered_qty (a Literal: safe in SQL)
    demand = _df(
        con,
        f"""select sku, week_start, cast(sum({quantity}) as double) as qty
            from marts.customer_sku_weekly_demand where week_start between ? and ?
            group by sku, week_start""",
        [first, last],
    )
    totals = demand.groupby("sku")["qty"].sum() if not demand.empty else None
    top = [] if totals is None else sorted(totals.index, key=lambda s: (-totals[s], s))[:top_skus]
    current = _df(
        con,
        """select coalesce(sku, '') as sku, period_start, forecast_qty, lower_qty, upper_qty
           from analytics.demand_forecasts
           where as_of_date = ? and (level = 'total' or (level = 'sku' and list_contains(?, sku)))
           order by period_start""",
        [day, top],
    )
    # The forecast made one week before each charted week: horizon 1 of the first day
    # that carried each forecast origin (the days up to the next origin repeat it).
    past = _df(
        con,
        """select coalesce(sku, '') as sku, period_start, forecast_qty
           from analytics.demand_forecasts
           where horizon = 1 and period_start between ? and ?
             and (level = 'total' or (level = 'sku' and list_contains(?, sku)))
             and as_of_date in (select min(as_of_date) from analytics.forecast_runs
                                where as_of_date between ? and ? group by forecast_origin)
           order by period_start""",
        [first, last, top, first - timedelta(days=7), day],
    )
    return ForecastFrames(["", *top], demand, current, past, weeks)


def _forecast_charts(con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig, words: Mapping[str, str]) -> str:
    from restock.charts import forecast_svg

    frames = forecast_frames(con, day, config)
    figures = []
    for i, sku in enumerate(frames.keys):
        actual, current, past = frames.actual(sku), frames.forecast(sku), frames.past_forecast(sku)
        title = words["total"] if sku == "" else sku
        svg = forecast_svg(actual, current, past, today=day, labels=words, ident=f"fc{i}", title=title)
        figures.append(
            f'<figure class="chart" data-chart="fc{i}" data-key="{_e(sku or "total")}" '
            f'data-actual-weeks="{len(actual)}" data-forecast-weeks="{len(current)}" '
            f'data-past-weeks="{len(past)}">'
            f"<figcaption>{_e(title)}</figcaption>{svg}</figure>"
        )
    note = _p(words["forecasts_note"].format(weeks=frames.weeks), "sub")
    return note + f'<div class="charts">{"".join(figures)}</div>'


def _accuracy(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    frame = _df(
        con,
        """select level, key, horizon, window_weeks, n_periods, actual_qty, forecast_qty, wape, bias,
                  tracking_signal, out_of_control, interval_coverage, review_date
           from analytics.forecast_accuracy where as_of_date = ? and level in ('total', 'sku')""",
        [day],
    )
    if frame.empty:
        return _p(words["no_accuracy"])
    total = frame[frame["level"] == "total"].sort_values("horizon")
    skus = (
        frame[(frame["level"] == "sku") & (frame["horizon"] == 1)]
        .sort_values(["actual_qty", "key"], ascending=[False, True])
        .head(TOP_ACCURACY_SKUS)
    )
    first = frame.iloc[0]
    review = first["review_date"]
    note = words["accuracy_note"].format(
        date=review.date().isoformat() if hasattr(review, "date") else review, weeks=first["window_weeks"]
    )

    def yes_no(flag: Any) -> str:
        return DASH if _missing(flag) else words["yes" if bool(flag) else "no"]

    common = [
        (words["actual_qty"], "r"),
        (words["forecast_qty"], "r"),
        (words["wape"], "r"),
        (words["bias"], "r"),
        (words["tracking_signal"], "r"),
        (words["coverage"], "r"),
        (words["out_of_control"], "l"),
    ]

    def cells(r: Any) -> list[str]:
        return [
            fmt_number(r.actual_qty),
            fmt_number(r.forecast_qty),
            fmt_share(r.wape),
            fmt_share(r.bias, signed=True),
            fmt_number(r.tracking_signal, 1),
            fmt_share(r.interval_coverage, 0),
            yes_no(r.out_of_control),
        ]

    parts = [_p(note, "sub")]
    parts.append(f"<h3>{_e(words['total'])}</h3>")
    parts.append(
        _table(
            [(words["horizon"], "r"), (words["weeks"], "r"), *common],
            [[int(r.horizon), fmt_number(r.n_periods), *cells(r)] for r in total.itertuples(index=False)],
            "accuracy-total",
        )
    )
    if not skus.empty:
        parts.append(f"<h3>{_e(words['top_skus_accuracy'])}</h3>")
        parts.append(
            _table(
                [(words["sku"], "l"), (words["weeks"], "r"), *common],
                [[r.key, fmt_number(r.n_periods), *cells(r)] for r in skus.itertuples(index=False)],
                "accuracy-sku",
            )
        )
    return "".join(parts)


def kpi_trend_frame(con: duckdb.DuckDBPyConnection, day: date, days: int = TREND_DAYS) -> pd.DataFrame:
    """as_of_date, quantity_fill_rate, line_fill_rate, on_hand_qty, avg_on_hand_qty of the
    total over the ``days`` days up to ``day``, in the shortest KPI window of the day."""
    return _df(
        con,
        """select as_of_date, quantity_fill_rate, line_fill_rate, on_hand_qty, avg_on_hand_qty
           from analytics.kpis
           where level = 'total' and as_of_date between ? and ?
             and window_weeks = (select min(window_weeks) from analytics.kpis where as_of_date = ? and level = 'total')
           order by as_of_date""",
        [day - timedelta(days=days - 1), day, day],
    )


def _trends(con: duckdb.DuckDBPyConnection, day: date, words: Mapping[str, str]) -> str:
    from restock.charts import trend_svg

    frame = kpi_trend_frame(con, day)
    if frame.empty:
        return _p(words["no_data"])
    fill = trend_svg(
        frame,
        {"quantity_fill_rate": words["quantity_fill_rate"], "line_fill_rate": words["line_fill_rate"]},
        percent=True,
        ident="trend-fill",
        title=words["trend_fill"],
    )
    stock = trend_svg(
        frame,
        {"on_hand_qty": words["on_hand_qty"], "avg_on_hand_qty": words["avg_on_hand_qty"]},
        ident="trend-stock",
        title=words["trend_stock"],
    )
    figures = [
        f'<figure class="chart" data-chart="trend-fill" data-days="{len(frame)}">'
        f"<figcaption>{_e(words['trend_fill'])}</figcaption>{fill}</figure>",
        f'<figure class="chart" data-chart="trend-stock" data-days="{len(frame)}">'
        f"<figcaption>{_e(words['trend_stock'])}</figcaption>{stock}</figure>",
    ]
    return f'<div class="charts">{"".join(figures)}</div>'


# ------------------------------------------------------------------ the page


def render_report(con: duckdb.DuckDBPyConnection, day: date, config: RestockConfig) -> str:
    """The report of ``day`` as one HTML document (no script, no external file)."""
    words = LABELS[config.report.language]
    sections: list[tuple[str, str, Callable[[], str]]] = [
        ("kpis", words["kpis"], lambda: _kpi_tiles(con, day, words)),
        ("orders", words["orders"], lambda: _orders(con, day, words)),
        ("alerts", words["alerts"], lambda: _alerts(con, day, words)),
        ("rationing", words["rationing"], lambda: _rationing(con, day, words)),
        ("replay", words["replay"], lambda: _replay(con, day, words)),
        ("forecasts", words["forecasts"], lambda: _forecast_charts(con, day, config, words)),
        ("accuracy", words["accuracy"], lambda: _accuracy(con, day, words)),
        ("trends", words["trends"], lambda: _trends(con, day, words)),
    ]
    body = "".join(_section(ident, title, build()) for ident, title, build in sections)
    built = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    title = f"{words['title']} {day.isoformat()}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{words["html_lang"]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{_e(words["title"])}</h1><p class="sub">{_e(words["as_of"])} '
        f'<time datetime="{day.isoformat()}" id="as-of">{day.isoformat()}</time> · {_e(words["built"])} {built}</p>'
        f"</header><main>{body}</main><footer>{_e(words['footer'])}</footer></body></html>\n"
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path`` by a temporary file and os.replace: a reader sees the old or
    the new page, never half of one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_report(con: duckdb.DuckDBPyConnection, data_dir: Path, day: date, config: RestockConfig) -> Path:
    """Build the report of ``day`` into published/report/<day>.html (atomically) and
    refresh report_latest.html when it is the newest report. Returns the day's file."""
    started = time.perf_counter()
    text = render_report(con, day, config).encode("utf-8")
    folder = report_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = report_path(data_dir, day)
    _write_atomically(path, text)
    _refresh_latest(data_dir)
    log.info("report %s: %d KB in %.2f s", path, math.ceil(len(text) / 1024), time.perf_counter() - started)
    return path


def _refresh_latest(data_dir: Path) -> Path | None:
    """report_latest.html = a copy of the newest day's report (removed when there is none)."""
    latest = report_dir(data_dir) / REPORT_LATEST
    days = report_days(data_dir)
    if not days:
        latest.unlink(missing_ok=True)
        return None
    newest = days[max(days)]
    data = newest.read_bytes()
    if not latest.exists() or latest.read_bytes() != data:
        _write_atomically(latest, data)
    return latest


def discard_report(data_dir: Path, day: date) -> bool:
    """Remove the report of ``day`` (its rebuild failed: the page would show what was
    published before); report_latest.html follows. True when there was one."""
    path = report_path(data_dir, day)
    if not path.is_file():
        return False
    path.unlink()
    fsync_dir(path.parent)
    _refresh_latest(data_dir)
    return True


def sync_reports(data_dir: Path, published: Iterable[date]) -> list[Path]:
    """Keep the reports in step with the published days: remove the report of every day
    not in ``published`` (e.g. unpublished by retention) and point report_latest.html at
    the newest report left. Returns the files removed."""
    keep = set(published)
    removed = []
    for day, path in report_days(data_dir).items():
        if day not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
            log.info("report of %s removed (the day is no longer published)", day)
    if removed:
        fsync_dir(report_dir(data_dir))
    if report_dir(data_dir).is_dir():
        _refresh_latest(data_dir)
    return removed


# ------------------------------------------------------------------ command line


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild a day's report from the warehouse (read-only), by default into
    RESTOCK_DATA_DIR/published/report/ (and report_latest.html when it is the newest)."""
    from restock.config import load_config
    from restock.settings import load_settings
    from restock.warehouse import connect

    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m restock.publish.daily_report", description=main.__doc__)
    parser.add_argument("--day", type=date.fromisoformat, help="as_of_date (default: the newest day of analytics.kpis)")
    parser.add_argument("--warehouse", type=Path, default=settings.warehouse_path, help="warehouse DuckDB file")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir, help="RESTOCK_DATA_DIR")
    parser.add_argument("--config", type=Path, default=settings.config_path, help="restock.yaml")
    parser.add_argument("--language", choices=sorted(LABELS), help="overrides report.language")
    parser.add_argument("--out", type=Path, help="write the page here instead of the data directory")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.language:
        config = config.override({"report.language": args.language})
    if not args.warehouse.exists():
        print(f"no warehouse at {args.warehouse}", file=sys.stderr)
        return 2
    con = connect(args.warehouse, read_only=True, memory_limit=settings.duckdb_memory_limit)
    try:
        day = args.day or con.execute("select max(as_of_date) from analytics.kpis").fetchone()[0]
        if day is None:
            print("analytics.kpis has no day yet", file=sys.stderr)
            return 2
        started = time.perf_counter()
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            text = render_report(con, day, config).encode("utf-8")
            _write_atomically(args.out, text)
            path = args.out
        else:
            path = write_report(con, args.data_dir, day, config)
        seconds = time.perf_counter() - started
    finally:
        con.close()
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB, built in {seconds:.2f} s")
    return 0


__all__ = [
    "LABELS",
    "render_report",
    "write_report",
    "discard_report",
    "sync_reports",
    "replay_sentence",
    "main",
    "ForecastFrames",
    "forecast_frames",
    "kpi_trend_frame",
]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
