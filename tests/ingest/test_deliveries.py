"""Which days the landing sensor considers complete, the complete-delivery rule
(marker or settle time) and re-delivery detection."""

from __future__ import annotations

import os
from datetime import date

from restock.contract import day_of_file
from restock.ingest.deliveries import (
    fingerprint,
    is_complete,
    is_delivered,
    scan_landing,
    still_being_written,
)

DAY = date(2024, 1, 2)
T0 = 1_700_000_000  # a fixed "now" (seconds); files get mtimes relative to it
SETTLE = 120


def _touch(landing, extract, name, text="h\n", mtime=None):
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    if mtime is not None:
        os.utime(folder / name, (mtime, mtime))
    return folder / name


def test_a_day_is_complete_once_orders_and_inventory_landed(tmp_path):
    _touch(tmp_path, "orders", "2024-01-02.csv")
    _touch(tmp_path, "customers", "2024-01-02.csv")
    _touch(tmp_path, "orders", "notes.txt")  # not a dated file: ignored
    days = scan_landing(tmp_path)
    assert list(days) == [DAY]
    assert not is_complete(days[DAY])
    _touch(tmp_path, "inventory", "2024-01-02.csv.gz")
    assert is_complete(scan_landing(tmp_path)[DAY])


def test_a_file_without_marker_counts_once_unchanged_for_settle_seconds(tmp_path):
    _touch(tmp_path, "orders", "2024-01-02.csv", mtime=T0)
    _touch(tmp_path, "inventory", "2024-01-02.csv", mtime=T0 - 3600)
    files = scan_landing(tmp_path)[DAY]
    # Just written (mtime = now): still being written; the old inventory file counts.
    assert not is_delivered(files["orders/2024-01-02.csv"], T0, SETTLE)
    assert still_being_written(files, T0, SETTLE) == ["orders/2024-01-02.csv"]
    assert still_being_written(files, T0 + SETTLE - 1, SETTLE) == ["orders/2024-01-02.csv"]
    # Unchanged for settle_seconds: delivered.
    assert is_delivered(files["orders/2024-01-02.csv"], T0 + SETTLE, SETTLE)
    assert still_being_written(files, T0 + SETTLE, SETTLE) == []
    # The threshold is the configured one, not a constant.
    assert still_being_written(files, T0 + SETTLE, 600) == ["orders/2024-01-02.csv"]


def test_a_marker_not_older_than_the_file_counts_at_once(tmp_path):
    _touch(tmp_path, "orders", "2024-01-02.csv", mtime=T0)
    files = scan_landing(tmp_path)[DAY]
    assert files["orders/2024-01-02.csv"].marker_mtime_ns is None
    assert not is_delivered(files["orders/2024-01-02.csv"], T0, SETTLE)

    _touch(tmp_path, "orders", "2024-01-02.csv.done", "", mtime=T0)  # same mtime counts
    file = scan_landing(tmp_path)[DAY]["orders/2024-01-02.csv"]
    assert file.marker_mtime_ns == T0 * 10**9
    assert is_delivered(file, T0, SETTLE)

    # A marker with another configured suffix is not this file's marker.
    assert not is_delivered(scan_landing(tmp_path, marker_suffix=".ok")[DAY]["orders/2024-01-02.csv"], T0, SETTLE)
    _touch(tmp_path, "orders", "2024-01-02.csv.ok", "", mtime=T0 + 1)
    assert is_delivered(scan_landing(tmp_path, marker_suffix=".ok")[DAY]["orders/2024-01-02.csv"], T0, SETTLE)


def test_a_marker_older_than_the_file_does_not_count(tmp_path):
    # The file was re-written after the sender's marker: wait for a new marker or the settle time.
    _touch(tmp_path, "orders", "2024-01-02.csv.done", "", mtime=T0 - 60)
    _touch(tmp_path, "orders", "2024-01-02.csv", mtime=T0)
    file = scan_landing(tmp_path)[DAY]["orders/2024-01-02.csv"]
    assert file.marker_mtime_ns is not None
    assert not is_delivered(file, T0, SETTLE)
    assert is_delivered(file, T0 + SETTLE, SETTLE)


def test_marker_files_are_not_data_files(tmp_path):
    for name in ("2024-01-02.csv.done", "2024-01-02.csv.gz.done", "2024-01-02.parquet.done", "2024-01-02.done"):
        assert day_of_file(name) is None, name
    assert day_of_file("2024-01-02.csv.gz") == DAY
    # A marker alone (the data file not there yet, or already removed) is no delivery.
    _touch(tmp_path, "orders", "2024-01-03.csv.done", "")
    _touch(tmp_path, "orders", "2024-01-02.csv")
    _touch(tmp_path, "orders", "2024-01-02.csv.done", "")
    days = scan_landing(tmp_path)
    assert list(days) == [DAY]
    assert list(days[DAY]) == ["orders/2024-01-02.csv"]


def test_fingerprint_changes_when_a_file_is_redelivered(tmp_path):
    path = _touch(tmp_path, "orders", "2024-01-02.csv", "a\n")
    before = fingerprint(scan_landing(tmp_path)[DAY])
    assert before == fingerprint(scan_landing(tmp_path)[DAY])
    path.write_text("a\nb\n")
    os.utime(path, ns=(1, 10**18))
    assert fingerprint(scan_landing(tmp_path)[DAY]) != before


def test_a_marker_does_not_change_the_fingerprint_but_a_redelivery_does(tmp_path):
    path = _touch(tmp_path, "orders", "2024-01-02.csv", "a\n", mtime=T0)
    unmarked = fingerprint(scan_landing(tmp_path)[DAY])
    _touch(tmp_path, "orders", "2024-01-02.csv.done", "", mtime=T0 + 1)
    marked = scan_landing(tmp_path)[DAY]
    # A marker arriving after the day was launched on the settle rule launches nothing new.
    assert fingerprint(marked) == unmarked
    # Re-delivery: new content after the old marker -> new fingerprint, and not complete
    # until a new marker (or the settle time).
    path.write_text("a\nb\n")
    os.utime(path, (T0 + 500, T0 + 500))
    redelivered = scan_landing(tmp_path)[DAY]
    assert fingerprint(redelivered) != unmarked
    assert still_being_written(redelivered, T0 + 500, SETTLE) == ["orders/2024-01-02.csv"]
    _touch(tmp_path, "orders", "2024-01-02.csv.done", "", mtime=T0 + 501)
    assert still_being_written(scan_landing(tmp_path)[DAY], T0 + 501, SETTLE) == []
    assert fingerprint(scan_landing(tmp_path)[DAY]) == fingerprint(redelivered)
