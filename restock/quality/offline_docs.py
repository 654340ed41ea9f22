"""Great Expectations' Data Docs without internet.

GE 1.24's pages load bootstrap, bootstrap-table, jQuery, popper, Font Awesome,
bootstrap-datepicker, vega and two logos from public CDNs: offline (a distributor's
intranet) the index renders unstyled and its validation-results table stays empty.
After each build, ``localize_site`` copies the vendored copies
(``data_docs_assets/``, made by ``scripts/vendor_data_docs_assets.py``) to
``<docs>/static/vendor/`` and points every page's asset URLs at them, by the explicit
mapping ``ASSETS``. A URL GE emits that the mapping does not know stays as it is and
is reported (``Rewrite.unknown``, ``SiteReport.unknown``): the tests fail on it, the
gates only log it. Links to web pages (``<a href>``) stay.

Plain Python (no GE, no Dagster): pure text functions plus the file walk.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

from restock.quality.docs_site import RESULTS

ASSETS_DIR = Path(__file__).resolve().parent / "data_docs_assets"
VENDOR = "static/vendor"  # under the site's root
_STAMP = ".pages_checked"  # in VENDOR: when the pages were last checked (see localize_site)

_GE_BUCKET = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"

# Every asset URL GE 1.24's Data Docs templates load -> the file, from the site's root.
ASSETS: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        f"{VENDOR}/bootstrap-4.3.1/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": f"{VENDOR}/bootstrap-4.3.1/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        f"{VENDOR}/bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        f"{VENDOR}/bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        f"{VENDOR}/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    # GE links the extension's stylesheet from 1.19.0: the same rules as 1.19.1's.
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        f"{VENDOR}/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        f"{VENDOR}/bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": f"{VENDOR}/jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        f"{VENDOR}/popper.js-1.12.9/umd/popper.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        f"{VENDOR}/fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        f"{VENDOR}/bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        f"{VENDOR}/bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        f"{VENDOR}/bootstrap-dark-1.1.0/css/bootstrap-prefers-dark.min.css"
    ),
    # vega@5 etc.: the newest release of the major, pinned by the vendoring script.
    "https://cdn.jsdelivr.net/npm/vega@5": f"{VENDOR}/vega-5.33.1/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": f"{VENDOR}/vega-lite-5.23.0/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": f"{VENDOR}/vega-embed-6.29.0/vega-embed.min.js",
    # Not on npm: GE's own copy of the light logo (in every site), a text logo of ours for dark mode.
    f"{_GE_BUCKET}/logo-long.png": "static/images/logo-long.png",
    f"{_GE_BUCKET}/full_logo_dark.png": f"{VENDOR}/restock/great-expectations-logo-dark.svg",
}

# A known URL, with any query string (GE adds ``?d=<time>`` to the logo), ending where the
# attribute value or css url() ends. Longest first: no URL is cut at a shorter one's end.
_KNOWN = re.compile(
    "(" + "|".join(re.escape(u) for u in sorted(ASSETS, key=len, reverse=True)) + r")(\?[^\"'\s)<>]*)?"
    r"(?=[\"'\s)<>])"
)
# GE's own relative links into static/ (the favicon), whose depth GE gets wrong on
# validation pages (three ``../`` for a page four folders deep).
_STATIC_REF = re.compile(r"""(\b(?:src|href)\s*=\s*["'])((?:\./|(?:\.\./)+)static/)""")
_SRI_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_SRI_ATTR = re.compile(r"""\s+(?:integrity|crossorigin)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?((?:https?:)?//[^'")\s]+)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+['"]((?:https?:)?//[^'"]+)""", re.IGNORECASE)
_EXTERNAL = re.compile(r"^(?:https?:)?//", re.IGNORECASE)
# Attributes that load something, on any tag but <a> (a link to a web page may stay).
_LOADING_ATTRS = {"src", "href", "srcset", "data", "poster", "background", "xlink:href"}


@dataclass(frozen=True)
class Rewrite:
    text: str
    replaced: int  # asset references pointed at local copies
    unknown: list[str]  # external asset URLs left (not in ``ASSETS``)


def prefix(depth: int) -> str:
    """From a page ``depth`` folders below the site's root to the root."""
    return "../" * depth


def rewrite_page(text: str, depth: int) -> Rewrite:
    """``text`` (a Data Docs page ``depth`` folders below the site's root) with every
    known asset URL pointing at its local copy, ``integrity``/``crossorigin`` dropped
    from the tags rewritten (a browser refuses a file:// script with ``crossorigin``),
    GE's relative ``static/`` links at the right depth; and the external asset URLs left."""
    up = prefix(depth)
    text, replaced = _KNOWN.subn(lambda m: up + ASSETS[m.group(1)], text)
    if replaced:
        text = _SRI_TAG.sub(lambda m: _SRI_ATTR.sub("", m.group(0)) if f"{VENDOR}/" in m.group(0) else m.group(0), text)
    text = _STATIC_REF.sub(lambda m: m.group(1) + (up or "./") + "static/", text)
    return Rewrite(text, replaced, external_assets(text))


class _AssetFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            return
        for name, value in attrs:
            if value and name in _LOADING_ATTRS:
                urls = [part.split()[0] for part in value.split(",") if part.strip()] if name == "srcset" else [value]
                self.found += [u.strip() for u in urls if _EXTERNAL.match(u.strip())]
            elif value and name == "style":
                self.found += _CSS_URL.findall(value)


def external_assets(text: str) -> list[str]:
    """The URLs outside the site that ``text`` (an HTML page) loads: src/href/... of any
    tag but ``<a>``, and ``url(...)``/``@import`` in its styles; in order, once each."""
    finder = _AssetFinder()
    finder.feed(text)
    finder.close()
    found = finder.found + _CSS_URL.findall(text) + _CSS_IMPORT.findall(text)
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------ a site on disk


@dataclass
class SiteReport:
    copied_assets: bool = False
    checked: int = 0  # pages read
    rewritten: list[Path] = field(default_factory=list)
    unknown: dict[Path, list[str]] = field(default_factory=dict)  # page -> external asset URLs left


@cache
def _manifest() -> tuple[bytes, tuple[str, ...]]:
    raw = (ASSETS_DIR / "manifest.json").read_bytes()
    return raw, tuple(json.loads(raw)["files"])


def install_assets(docs_dir: Path) -> bool:
    """Copy the vendored assets to ``<docs_dir>/static/vendor`` when missing or changed
    (its manifest differs, or a file is missing); whether it copied."""
    raw, files = _manifest()
    target = Path(docs_dir) / VENDOR
    manifest = target / "manifest.json"
    try:
        if manifest.read_bytes() == raw and all((target / f).is_file() for f in files):
            return False
    except FileNotFoundError:
        pass
    for name in files:
        _write_atomic(target / name, (ASSETS_DIR / name).read_bytes())
    _write_atomic(manifest, raw)  # last: a copy cut short is redone next time
    return True


def localize_site(docs_dir: Path, since: float | None = None) -> SiteReport:
    """Make the Data Docs site at ``docs_dir`` work offline: the assets copied (when
    needed), and each page that still loads a known CDN URL rewritten (atomically).

    Pages checked: those modified since the last check of this site (a stamp in
    ``static/vendor``, kept across processes) or since ``since`` (the build's start),
    whichever is earlier; all of them when the site has no stamp (first build, or a
    site written before this existed). Cheap: a stat per page, reading only new ones."""
    docs_dir = Path(docs_dir)
    started = time.time()
    report = SiteReport(copied_assets=install_assets(docs_dir))
    stamp = docs_dir / VENDOR / _STAMP
    try:
        last = float(stamp.read_text(encoding="utf-8"))
        threshold: float | None = min(last, since if since is not None else last) - 2.0  # coarse mtimes
    except (FileNotFoundError, ValueError):
        threshold = None
    for page in _pages(docs_dir):
        if threshold is not None and page.stat().st_mtime < threshold:
            continue
        report.checked += 1
        text = page.read_text(encoding="utf-8")
        if not _KNOWN.search(text):
            continue
        depth = len(page.relative_to(docs_dir).parts) - 1
        result = rewrite_page(text, depth)
        _write_atomic(page, result.text.encode("utf-8"))
        report.rewritten.append(page)
        if result.unknown:
            report.unknown[page] = result.unknown
    _write_atomic(stamp, repr(started).encode())
    return report


def _pages(docs_dir: Path):
    """The site's .html files, static/ and the validations' records (``docs_site``) left out."""
    for root, dirs, files in os.walk(docs_dir):
        if Path(root) == docs_dir:
            dirs[:] = [d for d in dirs if d not in ("static", RESULTS)]
        for name in files:
            if name.endswith(".html"):
                yield Path(root) / name


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
