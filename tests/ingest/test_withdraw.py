"""Withdrawing a delivery (restock.ingest.loader.withdraw_day, restock.ingest.withdraw):
a file taken out of the landing folder leaves the day as if it had never arrived.
Real files, a real DuckDB warehouse, the gate and the command as a real process."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from restock.ingest.gated import load_gated_days, open_quarantines
from restock.ingest.landing import LandingError
from restock.ingest.loader import MissingDeliveryError
from restock.ingest.withdraw import withdraw_file
from restock.settings import PROJECT_ROOT

ENC = ["utf-8-sig", "gb18030"]
D0 = date(2024, 3, 1)
D1, D2, D3 = (D0 + timedelta(days=i) for i in (1, 2, 3))
TODAY = date(2024, 4, 1)
SKUS = [f"S{k}" for k in range(1, 7)]
PRODUCTS = [dict(sku=s, lead_time_days="7", status="active") for s in SKUS]
WRONG_PRODUCTS = [dict(p, lead_time_days="30") for p in PRODUCTS]  # passes every gate, but is wrong


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def deliver(landing: Path, extract: str, day: date, rows: list[dict]) -> Path:
    (landing / extract).mkdir(parents=True, exist_ok=True)
    path = landing / extract / f"{day}.csv"
    path.write_bytes(csv_bytes(rows))
    return path


def orders(day: date) -> list[dict]:
    return [
        dict(
            order_id=f"{day:%Y%m%d}{i}",
            line_no="1",
            customer_id="C1",
            sku=s,
            order_date=str(day),
            quantity="2",
            status="confirmed",
        )
        for i, s in enumerate(SKUS)
    ]


class Warehouse:
    """A landing folder and a warehouse, loaded through the gate like the raw assets do."""

    def __init__(self, root: Path):
        self.landing, self.data = root / "landing", root / "data"
        self.data.mkdir(parents=True)
        deliver(self.landing, "customers", D0, [dict(customer_id="C1", status="active")])
        deliver(self.landing, "products", D0, PRODUCTS)
        for day in (D0, D1, D2, D3):
            deliver(self.landing, "orders", day, orders(day))
        self.con = duckdb.connect(str(self.data / "warehouse.duckdb"))

    def run(self, extract: str, days: list[date]):
        return list(
            load_gated_days(
                self.con, self.landing, self.data, extract, days, encodings=ENC, today=TODAY, data_docs=False
            )
        )

    def run_all(self, days: list[date]) -> None:
        for extract in ("customers", "products", "orders"):
            assert all(r.passed for r in self.run(extract, days))

    def state(self) -> dict[str, list]:
        """Every raw table and the load ledger, as a run that never saw a file would leave them
        (no file names or load times: only what the days hold)."""
        out = {}
        for extract in ("customers", "products", "orders"):
            out[extract] = self.con.execute(
                f"select * exclude (_source_file, _loaded_at) from raw.{extract} order by all"
            ).fetchall()
        out["loads"] = self.con.execute(
            "select extract, partition_date, status, checksum_sha256, row_count from raw._loads order by all"
        ).fetchall()
        out["open_quarantine"] = [(q["extract"], q["partition_date"]) for q in open_quarantines(self.con)]
        return out


@pytest.fixture
def never_saw_it(tmp_path) -> dict[str, list]:
    wh = Warehouse(tmp_path / "clean")
    wh.run_all([D0, D1, D2, D3])
    yield wh.state()
    wh.con.close()


@pytest.fixture
def wh(tmp_path):
    wh = Warehouse(tmp_path / "withdrawn")
    yield wh
    wh.con.close()


def test_a_withdrawn_snapshot_leaves_the_days_as_if_it_had_never_arrived(wh, never_saw_it):
    wrong = deliver(wh.landing, "products", D2, WRONG_PRODUCTS)
    wh.run_all([D0, D1, D2, D3])
    assert wh.con.execute("select max(_partition_date) from raw.products").fetchone()[0] == D2
    assert wh.state() != never_saw_it

    wrong.unlink()
    results = wh.run("products", [D2, D3])  # re-run the day (and the range after it)
    assert [(r.day, r.status, r.snapshot_in_force) for r in results] == [
        (D2, "no_delivery", D0),
        (D3, "no_delivery", D0),
    ]
    assert any(
        f"{wrong} is no longer in the landing folder" in n and "6 row(s) were withdrawn" in n for n in results[0].notes
    )
    assert wh.state() == never_saw_it
    # the withdrawn rows are kept (a copy that can go back to the landing folder as a .parquet)
    (kept,) = (wh.data / "withdrawn" / "products" / str(D2)).glob("*.rows.parquet")
    table = pq.read_table(kept)
    assert table.column("lead_time_days").to_pylist() == ["30"] * 6 and table.column("_source_row").to_pylist() == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    # running it again changes nothing more
    assert [r.status for r in wh.run("products", [D2])] == ["no_delivery"] and not wh.run("products", [D2])[0].notes
    assert wh.state() == never_saw_it


def test_a_withdrawn_quarantined_snapshot_is_released_with_a_note(wh, never_saw_it):
    wh.run_all([D0, D1, D2, D3])
    lost_half = deliver(wh.landing, "products", D2, PRODUCTS[::2])
    (rejected,) = wh.run("products", [D2])
    assert rejected.status == "quarantined" and "plausible_sku_coverage" in rejected.message()
    assert [q["source_file"] for q in open_quarantines(wh.con)] == [str(lost_half)]

    lost_half.unlink()
    (result,) = wh.run("products", [D2])
    assert result.status == "no_delivery" and result.released == 1 and result.snapshot_in_force == D0
    released_at, note = wh.con.execute("select released_at, release_note from raw._quarantine").fetchone()
    assert released_at is not None and note.startswith("withdrawn")
    assert wh.state() == never_saw_it


def test_a_withdrawn_daily_file_fails_the_day_as_never_delivered(wh, tmp_path):
    wh.run_all([D0, D1, D2])
    (wh.landing / "orders" / f"{D2}.csv").unlink()
    with pytest.raises(MissingDeliveryError) as err:
        wh.run("orders", [D1, D2])
    message = str(err.value)
    assert f"orders for {D2}: no file landed" in message and "6 row(s) were withdrawn" in message
    assert wh.con.execute("select count(*) from raw.orders where _partition_date = ?", [D2]).fetchone()[0] == 0
    assert (
        wh.con.execute(
            "select count(*) from raw._loads where extract = 'orders' and partition_date = ?", [D2]
        ).fetchone()[0]
        == 0
    )
    # as a warehouse that never received that day's file
    other = Warehouse(tmp_path / "never")
    (other.landing / "orders" / f"{D2}.csv").unlink()
    for extract in ("customers", "products"):
        other.run(extract, [D0, D1, D2])
    with pytest.raises(MissingDeliveryError):
        other.run("orders", [D0, D1, D2])
    assert wh.state() == other.state()
    other.con.close()
    # delivered again: loaded like any file
    deliver(wh.landing, "orders", D2, orders(D2))
    assert [r.status for r in wh.run("orders", [D2])] == ["loaded"]


def test_the_withdraw_command_moves_the_file_out_and_the_next_run_honours_it(wh, never_saw_it):
    wrong = deliver(wh.landing, "products", D2, WRONG_PRODUCTS)
    marker = wrong.with_name(wrong.name + ".done")
    marker.write_bytes(b"")
    wh.run_all([D0, D1, D2, D3])
    env = {**os.environ, "RESTOCK_LANDING_DIR": str(wh.landing), "RESTOCK_DATA_DIR": str(wh.data)}
    command = [sys.executable, "-m", "restock.ingest.withdraw", "--extract", "products", "--day", str(D2)]
    done = subprocess.run(
        [*command, "--reason", "lead times of another supplier"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"withdrew {wrong}" in done.stdout and "make backfill START=2024-03-03 END=<last loaded day>" in done.stdout
    assert not wrong.exists() and not marker.exists()
    folder = wh.data / "withdrawn" / "products" / str(D2)
    (kept,) = folder.glob("*-2024-03-03.csv")
    assert kept.read_bytes() == csv_bytes(WRONG_PRODUCTS)
    assert len(list(folder.glob("*-2024-03-03.csv.done"))) == 1
    assert next(folder.glob("*-reason.txt")).read_text(encoding="utf-8") == "lead times of another supplier\n"
    # nothing to withdraw any more: a clear message, exit code 1
    again = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and f"products for {D2}: no file in the landing folder" in again.stderr

    wh.run("products", [D2, D3])
    assert wh.state() == never_saw_it


def test_withdraw_file_names_what_is_wrong(tmp_path):
    with pytest.raises(LandingError, match="unknown extract 'product'"):
        withdraw_file(tmp_path / "landing", tmp_path / "data", "product", D0)
    with pytest.raises(LandingError, match=r"no file in the landing folder .*products/2024-03-01\.csv"):
        withdraw_file(tmp_path / "landing", tmp_path / "data", "products", D0)
