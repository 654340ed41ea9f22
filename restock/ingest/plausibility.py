"""Plausibility of a delivered snapshot: is it the whole extract, and does the stock add up?

A file can pass its suite (``expectations/raw_<extract>.json``: columns, types, ranges,
keys) and still be wrong: an export cut half-way, one taken during a stock count with
every ``on_hand_qty`` at 0, a products master that lost half its SKUs. These checks
compare the file with the *previous accepted* snapshot in the warehouse and turn what
does not add up into failing expectations of the file's ``GateResult``, so the gate
quarantines it exactly like a suite failure (``restock.ingest.gated``). Limits:
restock.yaml ``quality.plausibility`` (``PlausibilityConfig``).

- **customers / products**: coverage. The share of the previous accepted snapshot's
  ids (``customer_id`` / ``sku``; closed customers and delisted SKUs excepted: a master
  may drop them) still in the file must be at least ``min_customer_coverage`` /
  ``min_sku_coverage``. The previous snapshot is the accepted one with the latest day
  before the file's.
- **inventory**, against the accepted file of the day before (the extract comes every
  day; no accepted file that day -- the first day, or after a gap -- skips the checks
  with a note):

  * coverage: warehouses and warehouse x SKU rows that held stock the day before
    (``on_hand_qty`` or ``in_transit_qty`` > 0) must still be there
    (``min_warehouse_coverage``, ``min_sku_coverage``); a row that was empty may be
    left out (WMS exports that skip empty rows pass);
  * the stock identity, per warehouse x SKU present both days:
    ``on_hand = on_hand(day before) - shipped + received``. The input contract has no
    received or shipped columns, so *shipped* is the day before's ``allocated_qty``
    (stock allocated to confirmed orders at the end of a day ships the next morning;
    orders carry no warehouse, and the inventory file may count cases) and
    *received* is only bounded: ``0 <= received <= in_transit_qty(day before)`` (the
    upper bound only where that column is delivered; missing ``allocated_qty`` counts
    as 0, as in staging). A row is off when it misses that range by more than
    ``stock_identity_tolerance`` x the day before's on hand (at least
    ``stock_identity_min_units``); more than ``max_stock_identity_violation_share`` of
    the rows off blocks the day;
  * every ``on_hand_qty`` at 0 while the day before had stock blocks the day whatever
    the limits (an export taken during a stock count).

Plain Python, not GE expectations with computed parameters (as ``known_*`` and the
quantity baseline are): a day is compared with the day before *as accepted*, which in
a backfill window is only known once the day before has been gated and written, while
the window's suites run before any day is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from restock.config import PlausibilityConfig
from restock.contract import PARTITION_COLUMN
from restock.ingest.raw_tables import RAW_SCHEMA
from restock.quality.results import FailedExpectation, FailedRow

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from restock.ingest.landing import ExtractFile

SAMPLE_ROWS = 5
SETTING = "quality.plausibility"

# The id of a master snapshot, and the statuses of ids a master may drop.
_MASTER_KEY = {"customers": "customer_id", "products": "sku"}
_MAY_LEAVE = {"customers": ("closed",), "products": ("delisted",)}
_NOUN = {"customers": ("customer", "customers"), "products": ("SKU", "SKUs")}
_LIMIT = {"customers": "min_customer_coverage", "products": "min_sku_coverage"}
_STOCK_COLUMNS = ("warehouse_id", "sku", "on_hand_qty", "in_transit_qty", "allocated_qty")


@dataclass(frozen=True)
class AcceptedFile:
    """A file as the checks read the previous snapshot, once accepted for ``day``:
    inventory: ``_stock`` of its rows; customers / products: the id, ``status``,
    ``_source_file``, ``_source_row`` of its rows. The gate hands it to the next checks
    instead of reading the same rows back from ``raw.<extract>``."""

    day: date
    frame: pd.DataFrame = field(repr=False)
    source: str  # the file, as raw's _source_file


@dataclass(frozen=True)
class Plausibility:
    """What the checks found: failures block the file; notes say which checks were skipped."""

    failures: tuple[FailedExpectation, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    evaluated: int = 0  # checks made
    accepted: AcceptedFile | None = field(default=None, compare=False, repr=False)  # this file, as the next "before"

    @property
    def passed(self) -> bool:
        return not self.failures


def check_delivery(
    con,
    extract_name: str,
    day: date,
    file: ExtractFile,
    rules: PlausibilityConfig,
    before: AcceptedFile | None = None,
    before_read: Callable[[], None] | None = None,
) -> Plausibility:
    """The checks of ``extract_name`` for ``file`` delivered for ``day``, against the
    previous accepted snapshot in ``raw.<extract>`` (a duckdb connection).

    ``before``: the file the caller accepted last, when ``raw.<extract>`` holds it as
    the previous accepted snapshot of ``day`` (customers / products: the latest before
    ``day``; inventory: used when its day is the day before); the warehouse is read
    otherwise, after calling ``before_read`` (the caller writes what it holds back)."""
    if extract_name in _MASTER_KEY:
        key = _MASTER_KEY[extract_name]
        if getattr(rules, _LIMIT[extract_name]) <= 0:
            return Plausibility()
        delivered = file.table.to_pandas()
        columns = [key, "status", "_source_row"]
        mine = file.table.select([c for c in columns if c in file.table.column_names]).to_pandas()
        mine.insert(min(2, len(mine.columns)), "_source_file", str(file.path))
        accepted = AcceptedFile(day, mine, str(file.path))
        if before is not None and before.day < day and len(before.frame):
            checked = snapshot_coverage(extract_name, delivered, before.frame, before.day, rules, file.path)
            return dataclasses.replace(checked, accepted=accepted)
        if before_read is not None:
            before_read()
        previous_day = con.execute(
            f'SELECT max({PARTITION_COLUMN}) FROM {RAW_SCHEMA}."{extract_name}" WHERE {PARTITION_COLUMN} < ?', [day]
        ).fetchone()[0]
        if previous_day is None:
            return Plausibility(
                notes=(f"{file.path}: no accepted {extract_name} snapshot before {day}: coverage not checked",),
                accepted=accepted,
            )
        previous = con.execute(
            f'SELECT "{key}", status, _source_file, _source_row FROM {RAW_SCHEMA}."{extract_name}" '
            f"WHERE {PARTITION_COLUMN} = ?",
            [previous_day],
        ).df()
        checked = snapshot_coverage(extract_name, delivered, previous, previous_day, rules, file.path)
        return dataclasses.replace(checked, accepted=accepted)
    if extract_name == "inventory":
        day_before = day - timedelta(days=1)
        now = _stock(file.table.to_pandas(), file.path)
        accepted = AcceptedFile(day, now, str(file.path))
        if before is not None and before.day == day_before and len(before.frame):
            checked = _inventory_checks(now, before.frame, before.source, day_before, rules, file.path)
            return dataclasses.replace(checked, accepted=accepted)
        if before_read is not None:
            before_read()
        stock_columns = ", ".join(f'"{c}"' for c in _STOCK_COLUMNS)
        previous = con.execute(
            f"SELECT {stock_columns}, _source_file, _source_row FROM {RAW_SCHEMA}.inventory "
            f"WHERE {PARTITION_COLUMN} = ?",
            [day_before],
        ).df()
        if previous.empty:
            return Plausibility(
                notes=(
                    f"{file.path}: no accepted inventory for {day_before} (first day, or after a gap): "
                    "coverage and stock identity not checked",
                ),
                accepted=accepted,
            )
        checked = _inventory_checks(
            now, _stock(previous, None), _first(previous, "_source_file"), day_before, rules, file.path
        )
        return dataclasses.replace(checked, accepted=accepted)
    return Plausibility()


# ------------------------------------------------------------------ master snapshots


def snapshot_coverage(
    extract_name: str,
    today: pd.DataFrame,
    previous: pd.DataFrame,
    previous_day: date,
    rules: PlausibilityConfig,
    path: Path | str,
) -> Plausibility:
    """Coverage of a customers / products snapshot (``today``: the file's rows, contract
    columns as text) against the previous accepted one (``previous``: its key,
    ``status``, ``_source_file``, ``_source_row``)."""
    key, limit_name = _MASTER_KEY[extract_name], _LIMIT[extract_name]
    limit = float(getattr(rules, limit_name))
    if limit <= 0:
        return Plausibility()
    one, many = _NOUN[extract_name]
    prev = previous.assign(_key=_text(previous[key]))
    if "status" in prev.columns:
        prev = prev[
            ~_text(prev["status"]).str.strip().str.lower().isin(_MAY_LEAVE[extract_name]).fillna(False).to_numpy()
        ]
    prev = prev[prev["_key"].notna().to_numpy()].drop_duplicates("_key", keep="last")
    if prev.empty:
        return Plausibility(
            notes=(f"{path}: the {extract_name} snapshot of {previous_day} has no {many} to compare with",)
        )
    delivered = set(_text(today[key]).dropna()) if key in today.columns else set()
    present = prev["_key"].isin(delivered).to_numpy()
    share = float(present.mean())
    if share >= limit:
        return Plausibility(evaluated=1)
    missing = prev[~present].sort_values("_source_row")
    source = _first(previous, "_source_file")
    failure = FailedExpectation(
        expectation_type=f"plausible_{one.lower()}_coverage",
        columns=(key,),
        checked_columns=(key,),
        severity="critical",
        description=(
            f"only {share:.0%} of the {len(prev)} {many} of the {extract_name} snapshot accepted for "
            f"{previous_day} ({source}) are in this file, at least {limit:.0%} expected "
            f"({SETTING}.{limit_name}); missing (rows of that snapshot)"
        ),
        unexpected_count=len(missing),
        element_count=len(prev),
        rows=tuple(
            FailedRow(_str(r["_source_file"]), _int(r["_source_row"]), {key: r["_key"]})
            for r in missing.head(SAMPLE_ROWS).to_dict("records")
        ),
        observed=f"{share:.1%} of {len(prev)} {many} still delivered",
    )
    return Plausibility(failures=(failure,), evaluated=1)


# ------------------------------------------------------------------ inventory


def inventory_plausibility(
    today: pd.DataFrame,
    previous: pd.DataFrame,
    previous_day: date,
    rules: PlausibilityConfig,
    path: Path | str,
) -> Plausibility:
    """Coverage and the stock identity of an inventory file (``today``: contract
    columns as text, ``_source_row``) against the accepted file of the day before
    (``previous``: the same columns plus ``_source_file``)."""
    return _inventory_checks(
        _stock(today, path), _stock(previous, None), _first(previous, "_source_file"), previous_day, rules, path
    )


def _inventory_checks(
    now: pd.DataFrame,
    before: pd.DataFrame,
    source: str,
    previous_day: date,
    rules: PlausibilityConfig,
    path: Path | str,
) -> Plausibility:
    """``inventory_plausibility`` on the files as ``_stock`` reads them (``source``:
    the file of the day before)."""
    failures: list[FailedExpectation] = []
    evaluated = 1

    # Every on hand at 0 while the day before had stock: a stock-count export.
    if len(now) and bool((now["on_hand"] == 0).all()) and bool((before["on_hand"] > 0).any()):
        stocked = int((before["on_hand"] > 0).sum())
        failures.append(
            FailedExpectation(
                expectation_type="plausible_on_hand_not_all_zero",
                columns=("on_hand_qty",),
                checked_columns=("on_hand_qty",),
                severity="critical",
                description=(
                    f"on_hand_qty is 0 on every row while {stocked} row(s) of the file accepted for "
                    f"{previous_day} ({source}) held stock: an export taken during a stock count?"
                ),
                unexpected_count=len(now),
                element_count=len(now),
                rows=_samples(now.head(SAMPLE_ROWS), ("warehouse_id", "sku", "on_hand_qty")),
                observed="every on_hand_qty is 0",
            )
        )

    held = before[(before["on_hand"] > 0) | (before["in_transit"] > 0)]
    wh_limit = float(rules.min_warehouse_coverage)
    if wh_limit > 0 and len(held):
        evaluated += 1
        warehouses = held.drop_duplicates("warehouse_id", keep="first")
        present = warehouses["warehouse_id"].isin(set(now["warehouse_id"])).to_numpy()
        share = float(present.mean())
        if share < wh_limit:
            missing = warehouses[~present]
            failures.append(
                FailedExpectation(
                    expectation_type="plausible_warehouse_coverage",
                    columns=("warehouse_id",),
                    checked_columns=("warehouse_id",),
                    severity="critical",
                    description=(
                        f"only {share:.0%} of the {len(warehouses)} warehouses holding stock in the file accepted "
                        f"for {previous_day} ({source}) are in this file, at least {wh_limit:.0%} expected "
                        f"({SETTING}.min_warehouse_coverage); missing (first row of each in that file)"
                    ),
                    unexpected_count=len(missing),
                    element_count=len(warehouses),
                    rows=_samples(missing.head(SAMPLE_ROWS), ("warehouse_id",)),
                    observed=f"{share:.1%} of {len(warehouses)} warehouses still delivered",
                )
            )

    sku_limit = float(rules.min_sku_coverage)
    if sku_limit > 0 and len(held):
        evaluated += 1
        keys = set(zip(now["warehouse_id"], now["sku"], strict=True))
        present = [(w, s) in keys for w, s in zip(held["warehouse_id"], held["sku"], strict=True)]
        share = sum(present) / len(held)
        if share < sku_limit:
            missing = held[[not p for p in present]]
            failures.append(
                FailedExpectation(
                    expectation_type="plausible_sku_coverage",
                    columns=("warehouse_id", "sku"),
                    checked_columns=("warehouse_id", "sku"),
                    severity="critical",
                    description=(
                        f"only {share:.0%} of the {len(held)} warehouse x SKU rows holding stock in the file "
                        f"accepted for {previous_day} ({source}) are in this file, at least {sku_limit:.0%} "
                        f"expected ({SETTING}.min_sku_coverage); missing (rows of that file)"
                    ),
                    unexpected_count=len(missing),
                    element_count=len(held),
                    rows=_samples(missing.head(SAMPLE_ROWS), ("warehouse_id", "sku", "on_hand_qty")),
                    observed=f"{share:.1%} of {len(held)} rows with stock still delivered",
                )
            )

    max_share = float(rules.max_stock_identity_violation_share)
    both = now.merge(before, on=["warehouse_id", "sku"], suffixes=("", "_before"))
    if max_share < 1 and len(both):
        evaluated += 1
        tolerance = (float(rules.stock_identity_tolerance) * both["on_hand_before"]).clip(
            lower=float(rules.stock_identity_min_units)
        )
        after_shipping = both["on_hand_before"] - both["allocated_before"].fillna(0.0)
        low = after_shipping - tolerance
        high = after_shipping + both["in_transit_before"] + tolerance  # NaN: no upper bound
        off_by = (low - both["on_hand"]).clip(lower=0) + (both["on_hand"] - high).clip(lower=0).fillna(0.0)
        bad = (off_by > 0).to_numpy()
        share = float(bad.mean())
        if share > max_share:
            exact_high = after_shipping + both["in_transit_before"]
            worst = both[bad].assign(_off=off_by[bad], _low=after_shipping[bad], _high=exact_high[bad])
            worst = worst.sort_values(["_off", "_source_row"], ascending=[False, True]).head(SAMPLE_ROWS)
            failures.append(
                FailedExpectation(
                    expectation_type="plausible_stock_identity",
                    columns=("on_hand_qty",),
                    checked_columns=("on_hand_qty",),
                    severity="critical",
                    description=(
                        f"{share:.0%} of the warehouse x SKU rows also in the file accepted for {previous_day} "
                        f"({source}) break the stock identity: on hand = on hand then - allocated_qty then "
                        f"(shipped) + received, 0 <= received <= in_transit_qty then, within "
                        f"{float(rules.stock_identity_tolerance):.0%} of on hand then (at least "
                        f"{_number(float(rules.stock_identity_min_units))}); at most {max_share:.0%} allowed "
                        f"({SETTING}.max_stock_identity_violation_share); the rows furthest off"
                    ),
                    unexpected_count=int(bad.sum()),
                    element_count=len(both),
                    rows=tuple(
                        FailedRow(
                            str(path),
                            _int(r["_source_row"]),
                            {
                                "warehouse_id": r["warehouse_id"],
                                "sku": r["sku"],
                                "on_hand_qty": r["on_hand_qty"],
                                f"on_hand_qty {previous_day}": r["on_hand_qty_before"],
                                f"allocated_qty {previous_day}": r["allocated_qty_before"],
                                f"in_transit_qty {previous_day}": r["in_transit_qty_before"],
                                "expected": _range(r["_low"], r["_high"]),
                            },
                        )
                        for r in worst.to_dict("records")
                    ),
                    observed=f"{int(bad.sum())} of {len(both)} rows off",
                )
            )
    return Plausibility(failures=tuple(failures), evaluated=evaluated)


def _stock(frame: pd.DataFrame, path: Path | str | None) -> pd.DataFrame:
    """Keys, delivered text and parsed quantities, one row per warehouse x SKU
    (the last one wins, as in staging)."""
    import pandas as pd

    columns: dict[str, object] = {c: _text(frame[c]) for c in ("warehouse_id", "sku")}
    for column, short in (("on_hand_qty", "on_hand"), ("in_transit_qty", "in_transit"), ("allocated_qty", "allocated")):
        text = _text(frame[column]) if column in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="string")
        columns[column] = text
        columns[short] = pd.to_numeric(text, errors="coerce").astype("float64")
    columns["_source_row"] = frame["_source_row"] if "_source_row" in frame.columns else range(1, len(frame) + 1)
    if path is not None:
        columns["_source_file"] = str(path)
    elif "_source_file" in frame.columns:
        columns["_source_file"] = frame["_source_file"].astype("string")
    out = pd.DataFrame(columns, index=frame.index)
    out = out[out["warehouse_id"].notna().to_numpy() & out["sku"].notna().to_numpy()]
    return out.sort_values("_source_row").drop_duplicates(["warehouse_id", "sku"], keep="last")


def _samples(rows: pd.DataFrame, columns: tuple[str, ...]) -> tuple[FailedRow, ...]:
    """Sample rows with the file and row they came from."""
    return tuple(
        FailedRow(_str(r["_source_file"]), _int(r["_source_row"]), {c: r[c] for c in columns})
        for r in rows.to_dict("records")
    )


def _text(series: pd.Series) -> pd.Series:
    """Delivered text. The reader (and so raw) has trimmed it and made empty values null."""
    return series.astype("string")


def _first(frame: pd.DataFrame, column: str) -> str:
    if column not in frame.columns or frame.empty:
        return "?"
    values = frame[column].dropna()
    return str(values.iloc[0]) if len(values) else "?"


def _str(value: object) -> str | None:
    import pandas as pd

    return None if value is None or pd.isna(value) else str(value)


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def _range(low: float, high: float) -> str:
    low = max(low, 0.0)
    return f"{_number(low)} .. {_number(high)}" if high == high else f"at least {_number(low)}"
