"""Validation gates: real Great Expectations runs of the raw suites (no mocks)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from restock.ingest.order_baseline import quantity_baseline
from restock.quality import SuiteError, load_suite, validate_frame

DAY = date(2024, 3, 5)
FILE = "landing/{}/2024-03-05.csv"
CUSTOMERS = ["C1", "C2", "C3"]
SKUS = ["S1", "S2"]


def _frame(extract: str, rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["_partition_date"] = pd.Timestamp(DAY)
    df["_source_file"] = FILE.format(extract)
    df["_source_row"] = range(1, len(df) + 1)
    return df


def orders(**changes_by_row) -> pd.DataFrame:
    rows = [
        dict(
            order_id="O1",
            line_no="1",
            customer_id="C1",
            sku="S1",
            order_date="2024-03-05",
            quantity="10",
            requested_quantity="12",
            unit_price="85.50",
            amount="855.00",
            status="confirmed",
        ),
        dict(
            order_id="O1",
            line_no="2",
            customer_id="C1",
            sku="S2",
            order_date="2024-03-05",
            quantity="0",
            requested_quantity="4",
            unit_price="40",
            amount="0",
            status="confirmed",
        ),  # zero: fine
        dict(
            order_id="O2",
            line_no="1",
            customer_id="C2",
            sku="S1",
            order_date="2024-03-05",
            quantity="3",
            requested_quantity=None,
            unit_price=None,
            amount=None,
            status="Cancelled",
        ),  # fine
        dict(
            order_id="O3",
            line_no="1",
            customer_id="C3",
            sku="S2",
            order_date="2024-03-05",
            quantity="2.5",
            requested_quantity="2.5",
            unit_price="40",
            amount="100",
            status="confirmed",
        ),
    ]
    for key, change in changes_by_row.items():  # row_3={"quantity": "x"} changes data row 3
        rows[int(key.split("_")[1]) - 1].update(change)
    return _frame("orders", rows)


def customers() -> pd.DataFrame:
    return _frame(
        "customers",
        [
            dict(
                customer_id="C1",
                customer_name="老王便利店",
                channel="便利店",
                region="东城区",
                tier="12",
                status="active",
                opened_on="2020-03-01",
                closed_on=None,
                order_weekday="2",
            ),
            dict(
                customer_id="C2",
                customer_name="Beta",
                channel="kiosk",
                region="North",
                tier=None,
                status="Suspended",
                opened_on="2021-01-01",
                closed_on=None,
                order_weekday="5",
            ),
            dict(
                customer_id="C3",
                customer_name="Gamma",
                channel="kiosk",
                region="North",
                tier="3",
                status="closed",
                opened_on="2019-01-01",
                closed_on="2024-03-05",
                order_weekday=None,
            ),
        ],
    )


def products() -> pd.DataFrame:
    base = dict(
        product_name="P",
        brand="B",
        category="cig",
        price_band="mid",
        unit="条",
        units_per_case="50",
        unit_cost="70.00",
        list_price="85.50",
        lead_time_days="7",
        lead_time_std_days="1.5",
        moq_cases="1",
        shelf_life_days="540",
        status="active",
        launched_on="2023-01-01",
    )
    return _frame("products", [dict(base, sku="S1"), dict(base, sku="S2", status="delisted", lead_time_std_days=None)])


def inventory() -> pd.DataFrame:
    base = dict(on_hand_qty="120", in_transit_qty="0", allocated_qty="15", oldest_batch_date="2024-02-01")
    return _frame(
        "inventory",
        [
            dict(base, warehouse_id="W1", sku="S1"),
            dict(base, warehouse_id="W1", sku="S2"),
            dict(base, warehouse_id="W2", sku="S1", oldest_batch_date=None),
        ],
    )


def promotions() -> pd.DataFrame:
    return _frame("promotions", [dict(sku="S1", start_date="2024-03-10", end_date="2024-03-20", discount_pct="5")])


ORDER_PARAMS = {"partition_date": DAY, "known_customer_ids": CUSTOMERS, "known_skus": SKUS}


def _failure(result, column: str, expectation_type: str | None = None):
    found = [
        f
        for f in result.failures + result.warnings
        if column in f.columns and (expectation_type is None or f.expectation_type == expectation_type)
    ]
    assert found, f"no failure on {column} ({expectation_type}):\n{result.message()}"
    return found[0]


def _assert_row_named(result, failure, column: str, row: int, extract: str = "orders") -> None:
    assert any(r.source_row == row and r.source_file == FILE.format(extract) for r in failure.rows), failure.rows
    text = result.message()
    assert f"{FILE.format(extract)} row {row}" in text and column in text, text


def test_good_frames_pass_every_raw_suite_with_extra_columns_accepted():
    checks = [
        ("raw_orders", orders().assign(unexpected_extra="x"), ORDER_PARAMS),
        ("raw_customers", customers(), {"partition_date": DAY}),
        ("raw_products", products(), {"partition_date": "2024-03-05"}),
        ("raw_inventory", inventory(), {"partition_date": DAY, "known_skus": SKUS}),
        ("raw_promotions", promotions(), {"partition_date": DAY, "known_skus": SKUS}),
    ]
    for suite, df, params in checks:
        result = validate_frame(suite, df, params)
        assert result.passed, result.message()
        assert not result.warnings, result.message()
        assert result.row_count == len(df) and result.evaluated == len(load_suite(suite)["expectations"])
        assert "passed" in result.message()


def test_header_only_orders_file_is_a_day_without_orders():
    empty = orders().iloc[0:0]
    result = validate_frame("raw_orders", empty, ORDER_PARAMS)
    assert result.passed, result.message()
    assert result.row_count == 0


@pytest.mark.parametrize(
    "change, column, row, expectation_type",
    [
        ({"row_2": {"quantity": "ten"}}, "quantity", 2, "expect_column_values_to_match_regex"),
        ({"row_3": {"quantity": "-3"}}, "quantity", 3, "expect_column_values_to_be_between"),
        ({"row_4": {"quantity": "2500000"}}, "quantity", 4, "expect_column_values_to_be_between"),
        ({"row_2": {"customer_id": None}}, "customer_id", 2, "expect_column_values_to_not_be_null"),
        ({"row_2": {"line_no": "1"}}, "line_no", 2, "expect_compound_columns_to_be_unique"),
        ({"row_3": {"customer_id": "C999"}}, "customer_id", 3, "expect_column_values_to_be_in_set"),
        ({"row_4": {"sku": "S404"}}, "sku", 4, "expect_column_values_to_be_in_set"),
        # compared with the row's _partition_date (a per-row rule: several days can share a run)
        ({"row_1": {"order_date": "2024-03-04"}}, "order_date", 1, "expect_column_pair_values_to_be_equal"),
        ({"row_1": {"order_date": "2024-13-01"}}, "order_date", 1, "expect_column_values_to_match_strftime_format"),
        ({"row_3": {"status": "shipped"}}, "status", 3, "expect_column_values_to_be_in_set"),
    ],
    ids=[
        "non_numeric_quantity",
        "negative_quantity",
        "absurd_quantity",
        "null_key",
        "duplicate_line",
        "unknown_customer",
        "unknown_sku",
        "order_date_not_partition_day",
        "unparseable_date",
        "bad_status",
    ],
)
def test_each_orders_rule_names_the_column_and_source_row(change, column, row, expectation_type):
    result = validate_frame("raw_orders", orders(**change), ORDER_PARAMS)
    assert not result.passed
    failure = _failure(result, column, expectation_type)
    assert failure.severity == "critical" and failure.unexpected_count >= 1
    _assert_row_named(result, failure, column, row)
    # The message shows the value as delivered, not its parsed twin.
    delivered = next(iter(change.values()))[column]
    assert (repr(delivered) if delivered is not None else "NULL") in result.message()


def test_future_dates_fail():
    # An order dated tomorrow, validated as tomorrow's partition, run today.
    tomorrow = date.today() + timedelta(days=1)
    df = orders(**{f"row_{i}": {"order_date": tomorrow.isoformat()} for i in (1, 2, 3, 4)})
    df["_partition_date"] = pd.Timestamp(tomorrow)
    result = validate_frame("raw_orders", df, dict(ORDER_PARAMS, partition_date=tomorrow))
    failure = _failure(result, "order_date", "expect_column_values_to_be_between")
    assert "not in the future" in failure.description and failure.unexpected_count == 4
    # A customer opened after the snapshot's day.
    c = customers()
    c.loc[1, "opened_on"] = "2024-03-06"
    result = validate_frame("raw_customers", c, {"partition_date": DAY})
    failure = _failure(result, "opened_on")
    _assert_row_named(result, failure, "opened_on", 2, "customers")


def test_inventory_snapshot_for_another_day_fails():
    # The extract has no as-of column: the rows' partition day and the batch dates are checked.
    inv = inventory()
    inv["_partition_date"] = pd.Timestamp(DAY - timedelta(days=1))
    inv.loc[2, "oldest_batch_date"] = "2024-03-09"
    result = validate_frame("raw_inventory", inv, {"partition_date": DAY, "known_skus": SKUS})
    assert not result.passed
    assert _failure(result, "_partition_date").unexpected_count == 3
    _assert_row_named(result, _failure(result, "oldest_batch_date"), "oldest_batch_date", 3, "inventory")


def test_inventory_and_customer_keys():
    inv = inventory()
    inv.loc[1, "warehouse_id"] = "W2"
    inv.loc[1, "sku"] = "S1"  # W2 x S1 twice
    inv.loc[0, "on_hand_qty"] = "-1"
    result = validate_frame("raw_inventory", inv, {"partition_date": DAY, "known_skus": SKUS})
    assert _failure(result, "warehouse_id", "expect_compound_columns_to_be_unique").unexpected_count == 2
    _assert_row_named(result, _failure(result, "on_hand_qty"), "on_hand_qty", 1, "inventory")
    c = customers()
    c.loc[2, "customer_id"] = "C1"
    result = validate_frame("raw_customers", c, {"partition_date": DAY})
    # keyed by the day (compound with _partition_date) so several days can share a run
    _assert_row_named(
        result, _failure(result, "customer_id", "expect_compound_columns_to_be_unique"), "customer_id", 3, "customers"
    )


def test_quantity_outlier_against_the_customers_history_is_reported():
    history = pd.DataFrame(
        {
            "customer_id": ["C1"] * 20 + ["C2"] * 3,
            "quantity": ["8", "10", "12", "9"] * 5 + ["1", "2", "3"],
            "status": "confirmed",
        }
    )
    tiers = customers()[["customer_id", "tier"]]
    baseline = quantity_baseline(history, tiers)
    df = orders(row_1={"quantity": "900"})  # within max_quantity, absurd for C1 (mean ~10)
    result = validate_frame("raw_orders", df, ORDER_PARAMS, quantity_baseline=baseline)
    failure = _failure(result, "quantity", "expect_column_values_to_be_between")
    assert failure.checked_columns == ("quantity__z",) and failure.severity == "warning"
    assert result.passed  # a warning (the suite's choice, see expectations/README.md)
    _assert_row_named(result, failure, "quantity", 1)
    # Without a baseline the check has nothing to compare against.
    assert not validate_frame("raw_orders", df, ORDER_PARAMS).warnings


def test_missing_required_column_and_missing_parameter():
    result = validate_frame("raw_orders", orders().drop(columns=["quantity"]), ORDER_PARAMS)
    assert not result.passed
    assert any(f.expectation_type == "expect_column_to_exist" and f.column == "quantity" for f in result.failures)
    with pytest.raises(SuiteError, match="known_skus"):
        validate_frame("raw_orders", orders(), {"partition_date": DAY, "known_customer_ids": CUSTOMERS})


def test_a_typo_in_a_suite_is_an_error_not_a_silently_dropped_expectation(tmp_path):
    suite = load_suite("raw_promotions")
    suite["expectations"][0]["type"] = "expect_column_too_exist"
    (tmp_path / "raw_promotions.json").write_text(json.dumps(suite), encoding="utf-8")
    with pytest.raises(SuiteError, match="rejected 1 expectation"):
        validate_frame("raw_promotions", promotions(), {"partition_date": DAY, "known_skus": SKUS}, directory=tmp_path)


def test_data_docs_are_written_to_the_given_folder(tmp_path):
    docs = tmp_path / "docs"
    result = validate_frame("raw_orders", orders(row_2={"quantity": "ten"}), ORDER_PARAMS, data_docs_dir=docs)
    assert (docs / "index.html").is_file()
    assert result.data_docs_path is not None and result.data_docs_path.is_file()
    assert docs in result.data_docs_path.parents
    assert str(result.data_docs_path) in result.message()
    assert ">ten<" in result.data_docs_path.read_text(encoding="utf-8")  # the offending value is shown


# ------------------------------------------------- several days in one run (validate_days)


def _orders_of(day: date, **changes_by_row) -> pd.DataFrame:
    df = orders(**changes_by_row)
    df["order_date"] = [day.isoformat() if v == DAY.isoformat() else v for v in df["order_date"]]
    df["_partition_date"] = pd.Timestamp(day)
    df["_source_file"] = f"landing/orders/{day}.csv"
    return df


def test_validate_days_gives_each_day_the_verdict_of_its_own_run():
    from restock.quality import validate_days

    days = [DAY + timedelta(days=i) for i in range(4)]
    frames = {d: _orders_of(d) for d in days}
    frames[days[1]] = _orders_of(days[1], row_3={"quantity": "-3"})
    frames[days[2]] = _orders_of(days[2]).iloc[0:0]  # a day without orders
    # C3 leaves the customers snapshot in force from the last day on.
    known = {"known_customer_ids": {d: CUSTOMERS if d != days[3] else ["C1", "C2"] for d in days}, "known_skus": SKUS}
    history = pd.DataFrame({"customer_id": ["C1"] * 20, "quantity": ["8", "10", "12", "9"] * 5})
    frames[days[0]] = _orders_of(days[0], row_1={"quantity": "900"})  # an outlier: a warning only
    baseline = quantity_baseline(history)
    together = validate_days("raw_orders", frames, known, quantity_baseline=baseline)
    alone = {
        d: validate_frame("raw_orders", frames[d], {**known, "partition_date": d}, quantity_baseline=baseline)
        for d in days
    }
    assert [together[d].passed for d in days] == [alone[d].passed for d in days] == [True, False, True, False]
    for d in days:
        assert together[d].failures == alone[d].failures, d
        assert together[d].warnings == alone[d].warnings, d
        assert together[d].partition_date == d and together[d].row_count == len(frames[d])
    assert "landing/orders/2024-03-06.csv row 3: quantity='-3'" in together[days[1]].message()
    assert "landing/orders/2024-03-08.csv row 4: customer_id='C3'" in together[days[3]].message()
    assert together[days[0]].warnings[0].unexpected_count == 1


def test_validate_days_keys_uniqueness_by_day_and_falls_back_for_cross_row_rules(tmp_path):
    from restock.quality import validate_days
    from restock.quality.batches import batch_blockers

    day2 = DAY + timedelta(days=1)
    c2 = customers().assign(_partition_date=pd.Timestamp(day2), _source_file=FILE.format("customers") + "2")
    result = validate_days("raw_customers", {DAY: customers(), day2: c2}, {})
    assert all(r.passed for r in result.values()), {d: r.message() for d, r in result.items()}
    for name in ("raw_orders", "raw_customers", "raw_products", "raw_inventory", "raw_promotions"):
        assert not batch_blockers(load_suite(name)), name
    suite = load_suite("raw_customers")
    suite["expectations"].append({"type": "expect_column_values_to_be_unique", "kwargs": {"column": "customer_name"}})
    (tmp_path / "raw_customers.json").write_text(json.dumps(suite), encoding="utf-8")
    assert batch_blockers(suite) == [
        "expect_column_values_to_be_unique on customer_name compares rows of different days"
    ]
    result = validate_days("raw_customers", {DAY: customers(), day2: c2}, {}, directory=tmp_path)
    assert all(r.passed for r in result.values())  # one run per day: the same names on two days are fine
