"""Data Docs that work offline (restock.quality.offline_docs): the URL mapping, the
rewrite of one page, a real GE site written by a gate, and that site rendered by a real
headless Chromium with the network cut off."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import great_expectations
import pytest

from restock.quality import validate_frame
from restock.quality.offline_docs import (
    ASSETS,
    ASSETS_DIR,
    VENDOR,
    external_assets,
    install_assets,
    localize_site,
    rewrite_page,
)
from tests.browser import report_browser
from tests.quality.test_gates import DAY, ORDER_PARAMS, SKUS, orders, promotions

GE_TEMPLATES = Path(great_expectations.__file__).parent / "render" / "view"
MANIFEST = json.loads((ASSETS_DIR / "manifest.json").read_text(encoding="utf-8"))["files"]
ANY_URL = re.compile(r"https?://[^\s\"'<>)]+")


def _tag(url: str, query: str = "") -> str:
    if url.endswith(".png"):
        return f'<img class="NO-CACHE" src="{url}{query}" alt="x"/>'
    if ".css" in url:
        return f'<link rel="stylesheet" type="text/css" href="{url}">'
    return f'<script src="{url}" integrity="sha384-abc+/=" crossorigin="anonymous"></script>'


PAGE = "\n".join(
    [
        "<html><head>",
        *(_tag(url) for url in ASSETS),
        '<style>.navbar-brand a { background: url("'
        + next(u for u in ASSETS if "dark" in u and u.endswith(".png"))
        # GE's own favicon link, as GE writes it on a validation page (one ../ short).
        + '") 0 0 no-repeat; }</style><link rel="shortcut icon" href="../../../static/images/favicon.ico"/>',
        "</head><body>",
        _tag(next(u for u in ASSETS if u.endswith("logo-long.png")), "?d=20240305T101010.000000Z"),
        '<a href="https://greatexpectations.io">Great Expectations</a>',
        "</body></html>",
    ]
)


# ------------------------------------------------------------------ one page's text


@pytest.mark.parametrize("depth", [0, 2, 4])
def test_every_known_url_points_at_its_local_copy_at_the_page_depth(depth):
    up = "../" * depth
    result = rewrite_page(PAGE, depth)
    assert result.unknown == []
    assert result.replaced == len(ASSETS) + 2  # the dark logo twice (tag and css), the light one twice
    for url, local in ASSETS.items():
        assert url not in result.text
        assert f'"{up}{local}"' in result.text, (url, local)
    assert 'url("' + up + f'{VENDOR}/restock/great-expectations-logo-dark.svg")' in result.text
    assert "?d=2024" not in result.text  # the logo's cache-buster goes with the URL
    assert "integrity=" not in result.text and "crossorigin" not in result.text  # file:// + crossorigin fails
    assert '<a href="https://greatexpectations.io">' in result.text  # a link to a web page stays
    assert f'href="{up or "./"}static/images/favicon.ico"' in result.text  # GE's depth fixed
    assert ANY_URL.findall(result.text) == ["https://greatexpectations.io"]
    assert rewrite_page(result.text, depth).text == result.text  # idempotent


def test_a_url_the_mapping_does_not_know_is_reported_and_left_alone():
    text = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
        '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>'
        # a known URL's prefix is not that URL
        '<script src="https://cdn.jsdelivr.net/npm/vega@5.30.0/build/vega.js"></script>'
        '<img src="//example.org/logo.png"><div style="background: url(https://example.org/bg.png)"></div>'
        "<style>@import 'https://fonts.example.org/x.css';</style>"
    )
    result = rewrite_page(text, 1)
    assert result.replaced == 1
    assert result.unknown == [
        "https://cdn.jsdelivr.net/npm/vega@6",
        "https://cdn.jsdelivr.net/npm/vega@5.30.0/build/vega.js",
        "//example.org/logo.png",
        "https://example.org/bg.png",
        "https://fonts.example.org/x.css",
    ]
    assert '<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>' in result.text


def test_the_mapping_knows_every_asset_url_in_ge_templates():
    """Fails on a GE upgrade that links another CDN file: vendor it
    (scripts/vendor_data_docs_assets.py) and map it in offline_docs.ASSETS."""
    found: dict[str, set[str]] = {}
    for path in [*GE_TEMPLATES.rglob("*.j2"), *GE_TEMPLATES.rglob("*.css")]:
        for url in ANY_URL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(url, set()).add(path.name)
    bucket = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"  # + an image name in top_navbar
    pages = {u for u in found if u.startswith("https://greatexpectations.io")}  # <a href> links
    unknown = {u: found[u] for u in found if u not in ASSETS and u not in pages and u != bucket}
    assert not unknown, f"GE links asset URLs offline_docs.ASSETS does not map: {unknown}"
    assert len(found) > 15  # the templates were read


# ------------------------------------------------------------------ the vendored folder


def test_the_vendored_folder_holds_every_mapped_file_intact_with_licences():
    for name, sha in MANIFEST.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == sha, name
    vendored = {p.removeprefix(f"{VENDOR}/") for p in ASSETS.values() if p.startswith(f"{VENDOR}/")}
    assert vendored <= set(MANIFEST)
    for name in MANIFEST:  # what each stylesheet loads (Font Awesome's webfonts) is there
        if name.endswith(".css"):
            for ref in re.findall(r"""url\(\s*['"]?([^'")]+)""", (ASSETS_DIR / name).read_text(encoding="utf-8")):
                if not ref.startswith("data:"):
                    assert os.path.normpath(os.path.join(os.path.dirname(name), ref)) in MANIFEST, (name, ref)
    for folder in {n.split("/")[0] for n in MANIFEST} - {"restock"}:
        assert any(re.match(rf"{re.escape(folder)}/LICEN[CS]E", n) for n in MANIFEST), folder
    total = sum((ASSETS_DIR / n).stat().st_size for n in MANIFEST)
    assert total < 6 * 1024 * 1024


def test_assets_are_copied_only_when_missing_or_changed(tmp_path):
    assert install_assets(tmp_path)
    font = tmp_path / VENDOR / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2"
    assert font.read_bytes() == (ASSETS_DIR / "fontawesome-free-6.6.0/webfonts/fa-solid-900.woff2").read_bytes()
    assert not install_assets(tmp_path)
    font.unlink()
    assert install_assets(tmp_path) and font.is_file()
    (tmp_path / VENDOR / "manifest.json").write_text("{}", encoding="utf-8")  # an older vendored set
    assert install_assets(tmp_path)
    assert (tmp_path / VENDOR / "manifest.json").read_bytes() == (ASSETS_DIR / "manifest.json").read_bytes()


def test_only_pages_changed_since_the_last_check_are_read(tmp_path):
    old = tmp_path / "validations" / "a" / "b" / "c" / "old.html"
    old.parent.mkdir(parents=True)
    old.write_text(PAGE, encoding="utf-8")
    first = localize_site(tmp_path)
    assert first.copied_assets and first.rewritten == [old] and not first.unknown
    assert "../../../../static/vendor/jquery-3.7.1/jquery.min.js" in old.read_text(encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    (tmp_path / VENDOR / ".pages_checked").write_text(repr(hour_ago + 60), encoding="utf-8")
    new = tmp_path / "index.html"
    new.write_text(PAGE, encoding="utf-8")
    second = localize_site(tmp_path, since=time.time() - 1)
    assert not second.copied_assets
    assert second.checked == 1 and second.rewritten == [new]
    assert 'src="static/vendor/jquery-3.7.1/jquery.min.js"' in new.read_text(encoding="utf-8")


# ------------------------------------------------------------------ a real site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A Data Docs site as the gates write it: two real failing GE validations (the
    second build finds the site already localized and keeps the first page), the last
    one failing on "ten". A validation that passes writes no page."""
    docs = tmp_path_factory.mktemp("offline") / "quality" / "docs"
    params = {"partition_date": DAY, "known_skus": SKUS}
    assert validate_frame("raw_promotions", promotions(), params, data_docs_dir=docs).data_docs_path is None
    assert not docs.exists()
    bad = promotions().assign(discount_pct="lots")
    assert validate_frame("raw_promotions", bad, params, data_docs_dir=docs).data_docs_path is not None
    result = validate_frame("raw_orders", orders(row_2={"quantity": "ten"}), ORDER_PARAMS, data_docs_dir=docs)
    assert not result.passed and result.data_docs_path is not None
    return docs


def _pages(docs: Path) -> list[Path]:
    return sorted(p for p in docs.rglob("*.html") if VENDOR not in p.as_posix())


def _local_refs(text: str) -> list[str]:
    """The relative paths a page loads: src/href of script, link and img; css url()."""
    refs = []
    for tag in re.findall(r"<(?:script|link|img)\b[^>]*>", text):
        refs += re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", tag)
    refs += re.findall(r"""url\(\s*['"]?([^'")\s]+)""", text)
    return [r for r in refs if not r.startswith(("data:", "#"))]


def test_a_real_site_loads_nothing_from_the_internet(site):
    pages = _pages(site)
    assert site / "index.html" in pages
    validations = [p for p in pages if "validations" in p.parts]
    assert {p.parts[-3] for p in validations} == {"raw_promotions_2024-03-05", "raw_orders_2024-03-05"}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert external_assets(text) == [], page
        # Independently of that parser: every absolute URL left is a link to a web page.
        for m in ANY_URL.finditer(text):
            assert re.search(r"<a\s+href=[\"']$", text[: m.start()]), (page, m.group(0))
        refs = _local_refs(text)
        assert sum(f"{VENDOR}/" in r for r in refs) >= 15, page  # GE's 15 CDN files and the dark logo
        for ref in refs:
            assert (page.parent / ref.split("?")[0]).resolve().is_file(), (page, ref)
    depth4 = next(p for p in pages if p.parent != site)
    assert len(depth4.relative_to(site).parts) == 5
    assert '"../../../../static/vendor/jquery-3.7.1/jquery.min.js"' in depth4.read_text(encoding="utf-8")
    assert '"static/vendor/jquery-3.7.1/jquery.min.js"' in (site / "index.html").read_text(encoding="utf-8")
    assert (site / VENDOR / "manifest.json").read_bytes() == (ASSETS_DIR / "manifest.json").read_bytes()


CHROMIUM = shutil.which("chromium")


def _render(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after its scripts ran, in headless Chromium with no network
    (every host unresolvable, a dead proxy)."""
    done = subprocess.run(
        [
            CHROMIUM or "chromium",
            *report_browser().offline_flags(profile),
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it: apt-get install -y chromium)"
)
def test_the_site_renders_its_results_table_in_a_browser_without_network(site, tmp_path):
    index = _render(site / "index.html", tmp_path / "profile")
    # bootstrap-table (jQuery + bootstrap-table from static/vendor) filled the results table.
    assert 'class="bootstrap-table' in index
    rows = re.findall(r'<tr class="clickable-row" data-href="(validations/[^"]+)"[^>]*>(.*?)</tr>', index, re.S)
    assert rows, index[-3000:]
    assert len(rows) == 2 and "raw_orders_2024-03-05" in rows[0][1]  # both validations, newest first
    assert "raw_promotions_2024-03-05" in rows[1][1]
    assert all((site / href).is_file() for href, _ in rows)
    page = _render(site / rows[0][0], tmp_path / "profile")
    assert 'class="bootstrap-table' in page and ">ten<" in page
    # Control: the same index with GE's CDN links renders an empty table here, so the
    # network really was cut off and the table above came from the local copies.
    cdn = site / "index_cdn.html"
    text = (site / "index.html").read_text(encoding="utf-8")
    for url, local in ASSETS.items():
        text = text.replace(f'"{local}"', f'"{url}"')
    cdn.write_text(text, encoding="utf-8")
    try:
        assert 'class="clickable-row"' not in _render(cdn, tmp_path / "profile")
    finally:
        cdn.unlink()
