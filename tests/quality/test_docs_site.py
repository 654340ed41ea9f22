"""The Data Docs site keeps earlier validations (restock.quality.docs_site): across
processes (each Dagster run is a new one), listed by the index newest first, for
``KEEP_DAYS`` / ``KEEP_MAX``. Real GE runs, three of them in separate Python processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from restock.quality import validate_frame
from restock.quality.docs_site import KEEP_DAYS, PAGES, RESULTS, prune
from restock.quality.offline_docs import external_assets
from tests.quality.test_gates import ORDER_PARAMS, orders
from tests.quality.test_offline_docs import ANY_URL, _pages

ROOT = Path(__file__).resolve().parents[2]
RUN_TIME = "%Y%m%dT%H%M%S.%fZ"

# One failing validation, written to the site at argv[1]; prints its page.
SCRIPT = """
import json, sys
from pathlib import Path
from restock.quality import validate_frame
from tests.quality.test_gates import DAY, ORDER_PARAMS, SKUS, orders, promotions

docs, case = Path(sys.argv[1]), sys.argv[2]
if case == "promotions":
    result = validate_frame(
        "raw_promotions", promotions().assign(discount_pct="fifty"), {"partition_date": DAY, "known_skus": SKUS}, data_docs_dir=docs
    )
else:
    result = validate_frame("raw_orders", orders(row_2={"quantity": case}), ORDER_PARAMS, data_docs_dir=docs)
assert not result.passed
print(json.dumps(str(result.data_docs_path)))
"""


def _validate_in_a_new_process(docs: Path, case: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(docs), case], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(json.loads(done.stdout.strip().splitlines()[-1]))


def _index_links(docs: Path) -> list[str]:
    """The validation pages the index lists, in its order."""
    return re.findall(
        r"'_table_row_link_path': '(validations/[^']+)'", (docs / "index.html").read_text(encoding="utf-8")
    )


def _relative(docs: Path, page: Path) -> str:
    return page.relative_to(docs).as_posix()


def _record(docs: Path, page: Path) -> Path:
    return docs / RESULTS / page.relative_to(docs / PAGES).with_suffix(".json")


def _when(page: Path) -> datetime:
    return datetime.strptime(page.parent.name, RUN_TIME).replace(tzinfo=UTC)


def test_three_processes_leave_three_pages_all_listed_newest_first_and_offline(tmp_path):
    docs = tmp_path / "quality" / "docs"
    cases = [("ten", ">ten<"), ("promotions", ">fifty<"), ("twelve", ">twelve<")]
    pages = [_validate_in_a_new_process(docs, case) for case, _ in cases]
    assert len(set(pages)) == 3
    for page, (_, shown) in zip(pages, cases, strict=True):
        assert page.is_file(), page
        # Each page is the full rendering of its own result, untouched by later builds.
        assert shown in page.read_text(encoding="utf-8"), page
        # Its record is the index's record only: no per-expectation results kept.
        record = json.loads(_record(docs, page).read_text(encoding="utf-8"))
        assert record["results"] == [] and record["success"] is False
        assert record["statistics"]["unsuccessful_expectations"] >= 1
    assert _index_links(docs) == [_relative(docs, p) for p in reversed(pages)]  # newest first
    assert sorted(p for p in _pages(docs) if PAGES in p.parts) == sorted(pages)
    for page in _pages(docs):
        text = page.read_text(encoding="utf-8")
        assert external_assets(text) == [], page
        for m in ANY_URL.finditer(text):  # what is left: links to web pages
            assert re.search(r"<a\s+href=[\"']$", text[: m.start()]), (page, m.group(0))


def test_expired_validations_go_with_their_pages_and_leave_the_index(tmp_path):
    docs = tmp_path / "docs"
    bad = orders(row_2={"quantity": "ten"})
    first, second, third = (
        validate_frame("raw_orders", bad, ORDER_PARAMS, data_docs_dir=docs).data_docs_path for _ in range(3)
    )
    assert first and second and third and _when(first) < _when(second) < _when(third)
    assert len(_index_links(docs)) == 3

    # Older than KEEP_DAYS: the first, not the second.
    now = _when(first) + (_when(second) - _when(first)) / 2 + timedelta(days=KEEP_DAYS)
    pruned = prune(docs, now=now)
    assert pruned.removed == [_record(docs, first)] and pruned.kept == 2
    assert not first.exists() and not _record(docs, first).exists()
    assert not first.parent.exists() and not _record(docs, first).parent.exists()  # its empty folders
    assert second.is_file() and third.is_file() and _record(docs, second).is_file()

    # Beyond the newest KEEP_MAX: all but the newest.
    assert prune(docs, keep_max=1).removed == [_record(docs, second)]
    assert not second.exists() and third.is_file()

    # A validation older than KEEP_DAYS (its page and record moved to an older run time)
    # is dropped by the next build, which lists the rest.
    old_time = (datetime.now(UTC) - timedelta(days=KEEP_DAYS + 1)).strftime(RUN_TIME)
    old_page = third.parent.parent / old_time / third.name
    old_page.parent.mkdir()
    old_page.write_bytes(third.read_bytes())
    _record(docs, old_page).parent.mkdir()
    _record(docs, old_page).write_bytes(_record(docs, third).read_bytes())
    fourth = validate_frame("raw_orders", bad, ORDER_PARAMS, data_docs_dir=docs).data_docs_path
    assert fourth is not None and not old_page.exists() and not _record(docs, old_page).exists()
    assert _index_links(docs) == [_relative(docs, fourth), _relative(docs, third)]
    assert sorted(p.name for p in (docs / RESULTS).rglob("*") if p.is_file()) == [f"{third.stem}.json"] * 2
