"""A small hand-made raw data set for the dbt project tests (tests/dbt).

Three weeks, Monday 2024-03-04 .. Sunday 2024-03-24 (weeks W1 = 03-04, W2 = 03-11,
W3 = 03-18). Every number the tests assert is worked out by hand in the comments.

Customers (snapshot 03-04; snapshot 03-13 closes C3):
  C1  CRM tier 12, orders S1 x10 and S2 x5 every Monday, S3 on Sunday 03-24.
  C2  empty tier (derived), orders Tuesdays: 03-05 S1 x8 (the line is duplicated in
      the file, first as x7: the last row wins) and S3 x4; nothing in W2; 03-19
      S1 x6 (requested 9); on 03-24 (big delivery only) S2 x2.
  C3  CRM tier 5, 03-06 S2 x3 and a cancelled S1 line; 03-11 S2 x2; closed 03-13.
  C4  empty tier, opened 2024-03-01 (new), S2 x12 every Thursday.
Products (snapshot 03-04; snapshot 03-18 delists S3): S1 50/case, S2 25/case,
S3 10/case. Inventory every day for W1 x S1..S3, counted in cases.
Wednesday 03-20 is a day without orders (header-only file: no raw rows).
"""

from __future__ import annotations

import datetime as dt

from restock.contract import EXTRACTS

FIRST_DAY = dt.date(2024, 3, 4)
LAST_DAY = dt.date(2024, 3, 24)
DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]

# The extracts' columns in the order of the rows below: the input contract's.
CUSTOMER_COLUMNS = EXTRACTS["customers"].columns
ORDER_COLUMNS = EXTRACTS["orders"].columns
PRODUCT_COLUMNS = EXTRACTS["products"].columns
INVENTORY_COLUMNS = EXTRACTS["inventory"].columns

CUSTOMER_SNAPSHOTS = {
    dt.date(2024, 3, 4): [
        ("C1", "Alpha Store", "Convenience", "North", "12", "active", "2020-01-01", None, "1"),
        ("C2", "Beta Mart", "supermarket", "North", None, " Active ", "2020-06-01", None, "2"),
        ("C3", "Gamma Kiosk", "kiosk", "South", "5", "active", "2021-01-01", None, "3"),
        ("C4", "Delta Shop", "convenience", "South", None, "active", "2024-03-01", None, "4"),
    ],
    dt.date(2024, 3, 13): [
        ("C1", "Alpha Store", "Convenience", "North", "12", "active", "2020-01-01", None, "1"),
        ("C2", "Beta Mart", "supermarket", "North", None, "active", "2020-06-01", None, "2"),
        ("C3", "Gamma Kiosk", "kiosk", "South", "5", "closed", "2021-01-01", "2024-03-13", "3"),
        ("C4", "Delta Shop", "convenience", "South", None, "active", "2024-03-01", None, "4"),
    ],
}

_PRODUCTS_1 = [
    (
        "S1",
        "Red Crane",
        "Crane",
        "Cigarette",
        "Mid",
        "carton",
        "50",
        "120",
        "150",
        "7",
        "1.5",
        "1",
        "540",
        "active",
        "2019-01-01",
    ),
    (
        "S2",
        "Gold Leaf",
        "Leaf",
        "cigarette",
        "high",
        "carton",
        "25",
        "220",
        "260",
        "10",
        "2",
        "2",
        "540",
        "active",
        "2019-01-01",
    ),
    (
        "S3",
        "Blue Sky",
        "Sky",
        "cigarette",
        "low",
        "carton",
        "10",
        "60",
        "80",
        "5",
        None,
        "1",
        "360",
        "active",
        "2020-01-01",
    ),
]
PRODUCT_SNAPSHOTS = {
    dt.date(2024, 3, 4): _PRODUCTS_1,
    dt.date(2024, 3, 18): [_PRODUCTS_1[0], _PRODUCTS_1[1], _PRODUCTS_1[2][:13] + ("delisted", "2020-01-01")],
}


def _line(order_id, line_no, customer, sku, day, qty, price, requested=None, amount=None, status="confirmed"):
    return (
        order_id,
        str(line_no),
        customer,
        sku,
        day.isoformat(),
        str(qty),
        None if requested is None else str(requested),
        str(price),
        None if amount is None else str(amount),
        status,
    )


def orders_by_day(last_day_version: str = "big") -> dict[dt.date, list[tuple]]:
    """Order rows per file date, in file order. `last_day_version` picks 03-24's file."""
    days: dict[dt.date, list[tuple]] = {d: [] for d in DAYS}
    for week, monday in enumerate([dt.date(2024, 3, 4), dt.date(2024, 3, 11), dt.date(2024, 3, 18)], 1):
        # C1, Mondays: S1 x10 @150 (03-04's line carries a discounted amount), S2 x5 @260
        days[monday] += [
            _line(f"O-C1-{week}", 1, "C1", "S1", monday, 10, 150, amount=1450 if week == 1 else None),
            _line(f"O-C1-{week}", 2, "C1", "S2", monday, 5, 260, status=" CONFIRMED " if week == 2 else "confirmed"),
        ]
        # C4, Thursdays: S2 x12 @260
        thursday = monday + dt.timedelta(days=3)
        days[thursday].append(_line(f"O-C4-{week}", 1, "C4", "S2", thursday, 12, 260))
    d = dt.date(2024, 3, 5)
    days[d] += [
        _line("O-C2-1", 1, "C2", "S1", d, 7, 150),  # superseded by the row below
        _line("O-C2-1", 2, "C2", "S3", d, 4, 80),
        _line("O-C2-1", 1, "C2", "S1", d, 8, 150),  # duplicate line: last row wins
    ]
    d = dt.date(2024, 3, 6)
    days[d] += [
        _line("O-C3-1", 1, "C3", "S2", d, 3, 260),
        _line("O-C3-1", 2, "C3", "S1", d, 2, 150, status="cancelled"),
    ]
    d = dt.date(2024, 3, 11)
    days[d].append(_line("O-C3-2", 1, "C3", "S2", d, 2, 260))
    d = dt.date(2024, 3, 19)
    days[d].append(_line("O-C2-2", 1, "C2", "S1", d, 6, 150, requested=9))
    # 03-20: a day without orders (header-only file)
    assert days[dt.date(2024, 3, 20)] == []
    d = LAST_DAY
    if last_day_version == "big":
        days[d] += [
            _line("O-C1-4", 1, "C1", "S3", d, 5, 80),
            _line("O-C2-3", 1, "C2", "S2", d, 2, 260),
        ]
    else:  # re-delivered smaller file: C2's line is gone, C1's quantity went down
        days[d] += [_line("O-C1-4", 1, "C1", "S3", d, 4, 80)]
    return days


def inventory_by_day(last_day_version: str = "big") -> dict[dt.date, list[tuple]]:
    """Inventory rows per file date, in cases. Day i (0-based): S1 on hand 10+i cases,
    S2 20+i, S3 5; in transit 2 / 0 / empty; allocated 1 / 0 / 0."""
    days = {}
    for i, d in enumerate(DAYS):
        rows = [
            ("W1", "S1", str(10 + i), "2", "1", "2024-02-01"),
            ("W1", "S2", str(20 + i), "0", "0", "2024-02-15"),
            ("W1", "S3", "5", None, "0", "2024-01-10"),
        ]
        if i == 2:  # a duplicate row inside one file: the last row wins
            rows.insert(0, ("W1", "S1", "999", "0", "0", "2024-02-01"))
        if d == LAST_DAY and last_day_version != "big":
            rows = rows[:2]  # re-delivered file without S3
        days[d] = rows
    return days


def insert_rows(con, table: str, columns: tuple[str, ...], day: dt.date, rows: list[tuple]) -> None:
    source_file = f"landing/{table}/{day.isoformat()}.csv"
    for row_no, row in enumerate(rows, 1):
        con.execute(
            f'INSERT INTO raw."{table}" ({", ".join(columns)}, _partition_date, _source_file, _source_row, _loaded_at) '
            f"VALUES ({', '.join('?' * len(columns))}, ?, ?, ?, TIMESTAMP '2024-04-01 06:00:00')",
            [*row, day, source_file, row_no],
        )


def replace_day(con, table: str, columns: tuple[str, ...], day: dt.date, rows: list[tuple]) -> None:
    """What the ingestion does on a re-delivery: the day's rows are replaced."""
    con.execute(f'DELETE FROM raw."{table}" WHERE _partition_date = ?', [day])
    insert_rows(con, table, columns, day, rows)


def load_raw(con, days: list[dt.date], last_day_version: str = "big") -> None:
    """Load the snapshots dated within `days` and the daily extracts of `days`."""
    for day, rows in CUSTOMER_SNAPSHOTS.items():
        if day in days:
            insert_rows(con, "customers", CUSTOMER_COLUMNS, day, rows)
    for day, rows in PRODUCT_SNAPSHOTS.items():
        if day in days:
            insert_rows(con, "products", PRODUCT_COLUMNS, day, rows)
    orders = orders_by_day(last_day_version)
    inventory = inventory_by_day(last_day_version)
    for day in days:
        insert_rows(con, "orders", ORDER_COLUMNS, day, orders[day])
        insert_rows(con, "inventory", INVENTORY_COLUMNS, day, inventory[day])
