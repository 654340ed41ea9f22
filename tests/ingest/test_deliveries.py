"""Which days the landing sensor considers complete, and re-delivery detection."""

from __future__ import annotations

import os
from datetime import date

from restock.ingest.deliveries import fingerprint, is_complete, scan_landing


def _touch(landing, extract, name, text="h\n"):
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def test_a_day_is_complete_once_orders_and_inventory_landed(tmp_path):
    _touch(tmp_path, "orders", "2024-01-02.csv")
    _touch(tmp_path, "customers", "2024-01-02.csv")
    _touch(tmp_path, "orders", "notes.txt")  # not a dated file: ignored
    days = scan_landing(tmp_path)
    assert list(days) == [date(2024, 1, 2)]
    assert not is_complete(days[date(2024, 1, 2)])
    _touch(tmp_path, "inventory", "2024-01-02.csv.gz")
    assert is_complete(scan_landing(tmp_path)[date(2024, 1, 2)])


def test_fingerprint_changes_when_a_file_is_redelivered(tmp_path):
    path = _touch(tmp_path, "orders", "2024-01-02.csv", "a\n")
    before = fingerprint(scan_landing(tmp_path)[date(2024, 1, 2)])
    assert before == fingerprint(scan_landing(tmp_path)[date(2024, 1, 2)])
    path.write_text("a\nb\n")
    os.utime(path, ns=(1, 10**18))
    assert fingerprint(scan_landing(tmp_path)[date(2024, 1, 2)]) != before
