"""The gate's speed-ups give the verdicts and messages of the way they replaced.

- the strftime check once per distinct value (restock.quality.ge_metrics) against GE's
  own row-by-row provider, re-installed for the comparison: same GateResult, message
  and failing rows, on good and bad frames;
- a day without rows validated inside a multi-day run against its own run;
- int32 / float32 columns widened to 64 bits (GE's between-check is vectorised only
  for those) against the same frame in 64 bits; no batch fingerprint;
- an expectation's kwargs read from one configuration per lookup
  (restock.quality.ge_kwargs) against GE's own helpers, put back for the comparison:
  the same whole validation results, on passing, warning, failing and raising frames.

Real Great Expectations runs, no mocks.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta

import pandas as pd
import pytest

from restock.ingest.order_baseline import quantity_baseline
from restock.quality import ge_metrics, load_suite, validate_days, validate_frame

from .test_gates import DAY, ORDER_PARAMS, SKUS, customers, inventory, orders, products, promotions

# Values a date column may hold, each a different answer of datetime.strptime.
TRICKY_DATES = [
    "2024-03-05",
    "2024-3-5",  # strptime accepts one-digit month and day
    "2024-02-30",  # no such day
    "2024-13-01",
    "２０２４-０３-０５",  # full-width digits: strptime's \d matches them
    "2024-03-05T00:00",
    "2024-03-05 ",
    "05/03/2024",
    "",
    "2024-03-05",  # a repeated value
    "2024-02-29",
]


def _ge_row_by_row(column: pd.Series, strftime_format: str) -> pd.Series:
    """GE 1.x's pandas provider, as written in great_expectations."""
    from datetime import datetime

    def is_parseable_by_format(val):
        try:
            datetime.strptime(val, strftime_format)  # noqa: DTZ007
            return True
        except TypeError:
            raise TypeError("not a string") from None
        except ValueError:
            return False

    return column.map(is_parseable_by_format)


@contextmanager
def ge_builtin_strftime_provider():
    """GE's own (row by row) provider of the strftime metric, for the duration."""
    from great_expectations.expectations.metrics.column_map_metrics.column_values_match_strftime_format import (
        ColumnValuesMatchStrftimeFormat,
    )

    validate_frame("raw_promotions", promotions(), {"partition_date": DAY, "known_skus": SKUS})  # GE loaded
    assert ge_metrics.registered()
    ColumnValuesMatchStrftimeFormat._register_metric_functions()
    assert not ge_metrics.registered()
    try:
        yield
    finally:
        ge_metrics._PROVIDER._register_metric_functions()
        assert ge_metrics.registered()


def _same(a, b) -> None:
    assert (a.passed, a.row_count, a.evaluated, a.partition_date) == (
        b.passed,
        b.row_count,
        b.evaluated,
        b.partition_date,
    )
    assert a.failures == b.failures
    assert a.warnings == b.warnings
    assert a.message() == b.message()


def test_distinct_value_strftime_check_flags_the_rows_ge_flags():
    column = pd.Series(TRICKY_DATES * 3, index=range(100, 100 + 3 * len(TRICKY_DATES)))
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y"):
        fast = ge_metrics.matches_strftime_format(column, fmt)
        assert fast.tolist() == _ge_row_by_row(column, fmt).tolist()
        assert fast.index.equals(column.index) and fast.dtype == bool
    assert ge_metrics.matches_strftime_format(pd.Series([], dtype=object), "%Y-%m-%d").tolist() == []
    with pytest.raises(TypeError, match="must be of type string"):  # not text: row by row, GE's error
        ge_metrics.matches_strftime_format(pd.Series(["2024-03-05", date(2024, 3, 5)]), "%Y-%m-%d")


def _frames_with_dates():
    """(suite, frame, parameters): good and bad frames of every suite with a date format check."""
    cases = []
    n = len(orders())
    for i in range(0, len(TRICKY_DATES), n):
        values = TRICKY_DATES[i : i + n]
        changes = {f"row_{k + 1}": {"order_date": v} for k, v in enumerate(values)}
        cases.append(("raw_orders", orders(**changes), ORDER_PARAMS))
    cases.append(("raw_orders", orders(), ORDER_PARAMS))
    c = customers()
    c["opened_on"] = TRICKY_DATES[: len(c)]
    c.loc[0, "closed_on"] = "2024-3-1"
    cases += [("raw_customers", c, {"partition_date": DAY}), ("raw_customers", customers(), {"partition_date": DAY})]
    p = products()
    p["launched_on"] = ["2023-1-1", "2023-02-29"]
    cases.append(("raw_products", p, {"partition_date": DAY}))
    inv = inventory()
    inv["oldest_batch_date"] = ["２０２４-０２-０１", "2024-02-01", None]
    cases.append(("raw_inventory", inv, {"partition_date": DAY, "known_skus": SKUS}))
    promo = promotions()
    cases.append(("raw_promotions", promo.assign(start_date="2024-3-10"), {"partition_date": DAY, "known_skus": SKUS}))
    return cases


def test_distinct_value_strftime_check_gives_ge_own_verdicts_and_messages():
    cases = _frames_with_dates()
    now = [validate_frame(suite, df, params) for suite, df, params in cases]
    with ge_builtin_strftime_provider():
        before = [validate_frame(suite, df, params) for suite, df, params in cases]
    assert [r.passed for r in now] == [r.passed for r in before]
    assert not all(r.passed for r in now) and any(r.passed for r in now)  # good and bad frames
    for a, b in zip(now, before, strict=True):
        _same(a, b)
    # A bad date is still named by file, row, column and delivered value.
    bad = next(r for r in now if any("2024-02-30" in f.describe() for f in r.failures))
    assert "landing/orders/2024-03-05.csv row 3: order_date='2024-02-30'" in bad.message()


def test_a_day_without_rows_gets_the_verdict_of_its_own_run():
    """Header-only files stay in the multi-day run (orders: a day without orders) or are
    sent to their own run by the row-count rule (snapshots): either way the verdict is
    that of a one-day run."""
    days = [DAY + timedelta(days=i) for i in range(3)]
    makers = {
        "raw_orders": (orders, {"known_customer_ids": ["C1", "C2", "C3"], "known_skus": SKUS}),
        "raw_customers": (customers, {}),
        "raw_products": (products, {}),
        "raw_inventory": (inventory, {"known_skus": SKUS}),
        "raw_promotions": (promotions, {"known_skus": SKUS}),
    }
    for suite, (make, params) in makers.items():
        frames = {}
        for day in days:
            df = make()
            for col in ("order_date", "start_date", "end_date"):
                if col in df.columns and suite == "raw_orders":
                    df[col] = day.isoformat()
            df["_partition_date"] = pd.Timestamp(day)
            df["_source_file"] = f"landing/{suite}/{day}.csv"
            frames[day] = df
        frames[days[1]] = frames[days[1]].iloc[0:0]
        together = validate_days(suite, frames, params)
        for day in days:
            alone = validate_frame(suite, frames[day], {**params, "partition_date": day})
            _same(together[day], alone)
        has_row_count_rule = any(
            e["type"] == "expect_table_row_count_to_be_between" for e in load_suite(suite)["expectations"]
        )
        assert together[days[1]].passed is (not has_row_count_rule), suite


def _as_compared(result) -> dict:
    out = result.to_json_dict()
    out["expectation_config"].pop("id", None)  # a stored suite's expectations carry ids
    return out


def test_a_multi_day_run_screens_then_details_the_failures_as_a_complete_run():
    """``validate_days`` asks GE pass/fail for the whole suite, then the failing rows of
    the failing expectations only: the results are those of one COMPLETE run."""
    from restock.quality.frames import prepare_frame
    from restock.quality.runner import run_suite, screen_suite
    from restock.quality.suites import resolve_parameters

    days = [DAY, DAY + timedelta(days=1)]

    def two_days(make, **changes):
        parts = []
        for i, day in enumerate(days):
            df = make(**changes) if i == 1 else make()
            if "order_date" in df.columns:
                df["order_date"] = [day.isoformat() if v == DAY.isoformat() else v for v in df["order_date"]]
            parts.append(df.assign(_partition_date=pd.Timestamp(day), _source_file=f"landing/{day}.csv"))
        return pd.concat(parts, ignore_index=True)

    known = {"known_customer_ids": ["C1", "C2", "C3"], "known_skus": SKUS}
    window = {"window_start": days[0], "window_end": days[1]}
    cases = [
        ("raw_orders", two_days(orders), known),  # passes
        (
            "raw_orders",
            two_days(orders, row_1={"quantity": "ten", "order_date": "2024-3-6"}, row_3={"sku": "S9", "status": "x"}),
            known,
        ),
        ("raw_orders", two_days(orders).drop(columns=["quantity"]), known),  # expectations raise
        ("raw_customers", two_days(customers).assign(tier="0"), {}),
    ]
    for name, df, params in cases:
        suite = load_suite(name)
        resolved = resolve_parameters(suite, {**params, **window})
        frame = prepare_frame(suite, df, resolved)
        complete, _ = run_suite(suite, frame, resolved, "compare", None, complete=True)
        screened = screen_suite(suite, frame, resolved)
        # What validate_days reads: every verdict, and everything about the failures.
        verdicts = [(r.expectation_config.type, r.success, r.exception_info) for r in screened]
        assert verdicts == [(r.expectation_config.type, r.success, r.exception_info) for r in complete.results], name
        failed = [_as_compared(r) for r in screened if not r.success]
        assert failed == [_as_compared(r) for r in complete.results if not r.success], name
        assert bool(failed) is (df is not cases[0][1]), name


def test_validate_frame_asks_pass_or_fail_first_with_the_verdict_of_one_summary_run():
    """``validate_frame`` runs the suite pass/fail only (``BOOLEAN_ONLY``) and the
    detailed run only when something fails: passing, warning-only and failing frames
    get the GateResult of the detailed run alone."""
    from restock.quality.frames import prepare_frame
    from restock.quality.runner import read_failures, run_suite, suite_passes
    from restock.quality.suites import resolve_parameters

    history = pd.DataFrame({"customer_id": ["C1"] * 20, "quantity": ["8", "10", "12", "9"] * 5, "status": "confirmed"})
    baseline = quantity_baseline(history, customers()[["customer_id", "tier"]])
    cases = [
        ("raw_orders", orders(), ORDER_PARAMS, None),  # passes
        ("raw_orders", orders(row_1={"quantity": "900"}), ORDER_PARAMS, baseline),  # a warning only
        ("raw_orders", orders(row_3={"sku": "S9"}), ORDER_PARAMS, None),  # fails
        ("raw_customers", customers(), {"partition_date": DAY}, None),
        ("raw_inventory", inventory(), {"partition_date": DAY, "known_skus": SKUS}, None),
    ]
    kinds = set()
    for suite_name, df, params, base in cases:
        got = validate_frame(suite_name, df, params, quantity_baseline=base)
        suite = load_suite(suite_name)
        resolved = resolve_parameters(suite, params)
        frame = prepare_frame(suite, df, resolved, base)
        result, _ = run_suite(suite, frame, resolved, "detailed", None)
        failures, warnings = read_failures(result, frame)
        assert (got.passed, got.evaluated, got.failures, got.warnings) == (
            not failures,
            len(result.results),
            failures,
            warnings,
        ), suite_name
        screened = suite_passes(suite, frame, resolved)
        assert screened == (len(result.results) if not failures and not warnings else None)
        kinds.add("fails" if failures else "warns" if warnings else "passes")
    assert kinds == {"passes", "warns", "fails"}


def test_kwargs_from_one_configuration_give_ge_own_validation_results():
    from restock.quality import ge_kwargs
    from restock.quality.frames import prepare_frame
    from restock.quality.runner import run_suite
    from restock.quality.suites import resolve_parameters

    history = pd.DataFrame({"customer_id": ["C1"] * 20, "quantity": ["8", "10", "12", "9"] * 5, "status": "confirmed"})
    baseline = quantity_baseline(history, customers()[["customer_id", "tier"]])
    cases = [(suite, df, params, None) for suite, df, params in _frames_with_dates()]
    cases += [
        ("raw_orders", orders(row_1={"quantity": "900"}), ORDER_PARAMS, baseline),  # a warning only
        ("raw_orders", orders(row_3={"sku": "S9", "status": "x"}), ORDER_PARAMS, None),  # fails
        ("raw_orders", orders().drop(columns=["quantity"]), ORDER_PARAMS, None),  # expectations raise
    ]

    def results() -> list:
        out = []
        for name, df, params, base in cases:
            suite = load_suite(name)
            resolved = resolve_parameters(suite, params)
            frame = prepare_frame(suite, df, resolved, base)
            result, _ = run_suite(suite, frame, resolved, "compare", None)
            out.append(([_as_compared(r) for r in result.results], result.statistics, result.success))
        return out

    validate_frame("raw_promotions", promotions(), {"partition_date": DAY, "known_skus": SKUS})  # GE loaded
    if not ge_kwargs.install():  # another GE than the one it was written against: its own helpers run
        import great_expectations as gx
        from great_expectations.expectations.expectation import Expectation

        assert Expectation._get_domain_kwargs is not ge_kwargs._get_domain_kwargs
        pytest.skip(f"great_expectations {gx.__version__}: ge_kwargs not installed, GE's own helpers run")
    ours = results()
    ge_kwargs.uninstall()
    try:
        theirs = results()
    finally:
        assert ge_kwargs.install()
    assert ours == theirs

    def raised(result: dict) -> bool:
        return "'raised_exception': True" in str(result.get("exception_info"))

    outcomes = {(success, any(raised(r) for r in res)) for res, _, success in ours}
    assert {(True, False), (False, False), (False, True)} <= outcomes, outcomes


# ------------------------------------- narrow numbers widened, no batch fingerprint


def _horizon_suite(tmp_path) -> None:
    import json

    suite = {
        "name": "horizons",
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "horizon", "min_value": 1, "max_value": 8},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "share", "min_value": 0, "max_value": 1},
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "horizon"}},
        ],
    }
    (tmp_path / "horizons.json").write_text(json.dumps(suite), encoding="utf-8")


def test_int32_and_float32_columns_get_the_verdicts_of_int64_and_float64(tmp_path):
    """A DuckDB INTEGER arrives as int32, which GE's between-check runs in Python per
    value; prepare_frame widens it (restock.quality.frames._widen_numbers): the same
    failing rows, values and counts as the same frame in 64 bits."""
    import numpy as np

    from restock.quality.frames import prepare_frame

    _horizon_suite(tmp_path)
    wide = pd.DataFrame({"horizon": [1, 9, 3, 0, 8], "share": [0.5, 0.25, 1.5, 0.0, 1.0]})
    narrow = wide.astype({"horizon": "int32", "share": "float32"})
    assert prepare_frame(load_suite("horizons", tmp_path), narrow)[["horizon", "share"]].dtypes.tolist() == [
        np.dtype("int64"),
        np.dtype("float64"),
    ]
    results = [validate_frame("horizons", frame, {}, directory=tmp_path) for frame in (narrow, wide)]
    assert not results[0].passed
    assert results[0].message() == results[1].message()
    failed = {f.column: sorted(r.source_row for r in f.rows) for f in results[0].failures}
    assert failed == {"horizon": [2, 4], "share": [3]}


def test_ge_does_not_fingerprint_the_batch(tmp_path):
    """GE hashes every row of a pandas batch for a marker nothing reads (~1 s per
    million rows): the runner turns it off; the verdict is unchanged."""
    from restock.quality.frames import prepare_frame
    from restock.quality.runner import run_suite

    _horizon_suite(tmp_path)
    suite = load_suite("horizons", tmp_path)
    frame = prepare_frame(suite, pd.DataFrame({"horizon": [1, 2], "share": [0.1, 0.2]}))
    result, _ = run_suite(suite, frame, {}, "horizons", None)
    assert result.success
    markers = result.meta.get("batch_markers") or {}
    assert "ge_load_time" in markers and "pandas_data_fingerprint" not in markers
