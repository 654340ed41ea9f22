"""Refresh ``restock/quality/data_docs_assets/``: the scripts, styles and fonts that
Great Expectations' Data Docs pages load from public CDNs, so that the pages Restock
writes under ``<data_dir>/quality/docs`` work without internet.

Downloads the pinned versions below from the npm registry, checks each tarball against
its pinned integrity hash (sha512, as ``npm view <pkg>@<version> dist.integrity``
prints it), and extracts only the files the pages load (minified), the files their
stylesheets reference (Font Awesome's webfonts) and each package's licence. Then
writes the folder's README.md and manifest.json (sha256 of every file: what
``restock.quality.offline_docs`` compares to copy the folder into a site only when it
changed). Standard library only.

    python scripts/vendor_data_docs_assets.py

When a new Great Expectations release links other URLs, the test
tests/quality/test_offline_docs.py fails naming them: add the package here (or bump
its version and hash), run this script, and add the URL to
``restock/quality/offline_docs.py``'s ``ASSETS``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import posixpath
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
TARGET = Path(__file__).resolve().parent.parent / "restock" / "quality" / "data_docs_assets"


@dataclass(frozen=True)
class Package:
    name: str  # npm name
    version: str
    integrity: str  # npm's dist.integrity of the tarball
    licence: str  # SPDX expression from package.json
    files: dict[str, str]  # path in the tarball (under package/) -> path in the package's folder
    licence_file: str | None  # path in the tarball; None: the package ships none (see LICENCE_TEXTS)
    note: str = ""

    @property
    def folder(self) -> str:
        return f"{self.name.split('/')[-1]}-{self.version}"

    @property
    def tarball(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.split('/')[-1]}-{self.version}.tgz"


PACKAGES = [
    Package(
        "bootstrap",
        "4.3.1",
        "sha512-rXqOmH1VilAt2DyPzluTi2blhk17bO7ef+zLLPlWvG494pDxcM234pJ8wTc/6R40UWizAIIMgxjvxZg5kmsbag==",
        "MIT",
        {"dist/css/bootstrap.min.css": "css/bootstrap.min.css", "dist/js/bootstrap.min.js": "js/bootstrap.min.js"},
        "LICENSE",
    ),
    Package(
        "bootstrap-table",
        "1.19.1",
        "sha512-WvV+l1AI/C+zThaKmfHmi/IuayVNB0qdFyEhFx1jyZhO0oLtNJNANkCR3rvJf6Dkh72dsLElxpE/bzK9seEQLA==",
        "MIT",
        {
            "dist/bootstrap-table.min.css": "bootstrap-table.min.css",
            "dist/bootstrap-table.min.js": "bootstrap-table.min.js",
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
                "extensions/filter-control/bootstrap-table-filter-control.min.js"
            ),
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
                "extensions/filter-control/bootstrap-table-filter-control.min.css"
            ),
        },
        "LICENSE",
        note=(
            "GE links the filter-control stylesheet from 1.19.0; the 1.19.1 file is used for it "
            "(the two differ only in the version in their banner comment)."
        ),
    ),
    Package(
        "jquery",
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        "MIT",
        {"dist/jquery.min.js": "jquery.min.js"},
        "LICENSE.txt",
    ),
    Package(
        "popper.js",
        "1.12.9",
        "sha512-s0EEi9xiSCdqz9lV4IiVH5yIZnDX/U1t0tCjB+0jXx9jW8lrR7kOpVupiUg175ogqVoudpDXHF1p6dKATCHMeg==",
        "MIT",
        {"dist/umd/popper.min.js": "umd/popper.min.js"},
        None,
        note="The npm package ships no licence file: LICENSE is the MIT text with the notice of popper.min.js's banner.",
    ),
    Package(
        "@fortawesome/fontawesome-free",
        "6.6.0",
        "sha512-60G28ke/sXdtS9KZCpZSHHkCbdsOGEhIUGlwq6yhY74UpTiToIh8np7A8yphhM4BWsvNFtIvLpi4co+h9Mr9Ow==",
        "(CC-BY-4.0 AND OFL-1.1 AND MIT)",
        {"css/all.min.css": "css/all.min.css"},  # + the webfonts it references
        "LICENSE.txt",
    ),
    Package(
        "bootstrap-datepicker",
        "1.9.0",
        "sha512-9rYYbaVOheGYxjOr/+bJCmRPihfy+LkLSg4fIFMT9Od8WwWB/MB50w0JO1eBgKUMbb7PFHQD5uAfI3ArAxZRXA==",
        "Apache-2.0",
        {
            "dist/css/bootstrap-datepicker.min.css": "css/bootstrap-datepicker.min.css",
            "dist/js/bootstrap-datepicker.min.js": "js/bootstrap-datepicker.min.js",
        },
        "LICENSE",
    ),
    Package(
        "@forevolve/bootstrap-dark",
        "1.1.0",
        "sha512-A3ucpEpxPoTVO490lZZCfjPXxv832l7mm1IxX3bXyxvgwnPGXDLyh7dWrphXKO8YBAu3EswbBEu3VSW8NRMW3A==",
        "MIT",
        {"dist/css/bootstrap-prefers-dark.min.css": "css/bootstrap-prefers-dark.min.css"},
        "LICENSE",
        note="GE links the unminified bootstrap-prefers-dark.css (880 kB); the minified file of the same release is used.",
    ),
    # GE links vega@5, vega-lite@5 and vega-embed@6, i.e. the newest release of each major.
    Package(
        "vega",
        "5.33.1",
        "sha512-1fArfVDUqVbb5z8n+/nVQb+VNBzx8svY6CrsyTK4Ujm4yrd9I1auoKxBAPXLCavY1LcrbHUskQbGUP8gXOzyQw==",
        "BSD-3-Clause",
        {"build/vega.min.js": "vega.min.js"},
        None,
        note="The npm package ships no licence file: LICENSE is the vega/vega repository's LICENSE.",
    ),
    Package(
        "vega-lite",
        "5.23.0",
        "sha512-l4J6+AWE3DIjvovEoHl2LdtCUkfm4zs8Xxx7INwZEAv+XVb6kR6vIN1gt3t2gN2gs/y4DYTs/RPoTeYAuEg6mA==",
        "BSD-3-Clause",
        {"build/vega-lite.min.js": "vega-lite.min.js"},
        "LICENSE",
    ),
    Package(
        "vega-embed",
        "6.29.0",
        "sha512-PmlshTLtLFLgWtF/b23T1OwX53AugJ9RZ3qPE2c01VFAbgt3/GSNI/etzA/GzdrkceXFma+FDHNXUppKuM0U6Q==",
        "BSD-3-Clause",
        {"build/vega-embed.min.js": "vega-embed.min.js"},
        "LICENSE",
    ),
]

_MIT = """MIT License

{notice}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

_BSD3_UW_IDL = """Copyright (c) 2015-2023, University of Washington Interactive Data Lab
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors
  may be used to endorse or promote products derived from this software
  without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

# Licences of packages whose npm tarball has no licence file.
LICENCE_TEXTS = {
    "popper.js": _MIT.format(notice="Copyright (C) Federico Zivolo 2017"),
    "vega": _BSD3_UW_IDL,
}

# The dark-mode logo GE loads from its web-assets bucket (not on npm): a text logo of
# ours, the size GE gives the image (228.75 x 50 px), white on the dark theme.
DARK_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" width="229" height="50" viewBox="0 0 229 50">
  <text x="2" y="32" fill="#ffffff" font-family="sans-serif" font-size="19">great_expectations</text>
</svg>
"""
DARK_LOGO_PATH = "restock/great-expectations-logo-dark.svg"

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")


def fetch(package: Package) -> bytes:
    with urllib.request.urlopen(package.tarball, timeout=120) as response:
        data: bytes = response.read()
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(
            f"{package.name}@{package.version}: tarball {package.tarball} has {algorithm} {actual}, "
            f"expected {expected} (pinned in {Path(__file__).name})"
        )
    return data


def extract(package: Package, data: bytes, into: Path) -> list[str]:
    """Write the package's files under ``into/<folder>``; the paths written, relative to ``into``."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = {m.name.removeprefix("package/"): m for m in tar.getmembers() if m.isfile()}

        def read(path: str) -> bytes:
            if path not in members:
                raise SystemExit(f"{package.name}@{package.version}: no {path} in {package.tarball}")
            handle = tar.extractfile(members[path])
            assert handle is not None
            return handle.read()

        wanted = dict(package.files)
        for source, dest in package.files.items():
            if source.endswith(".css"):  # what a stylesheet loads (fonts, images) comes along
                for _, ref in _CSS_URL.findall(read(source).decode("utf-8")):
                    if ref.startswith(("data:", "#")):
                        continue
                    if "://" in ref or ref.startswith("/"):
                        raise SystemExit(f"{package.name}: {source} loads {ref}, which cannot be vendored")
                    ref = ref.split("?")[0].split("#")[0]
                    wanted[posixpath.normpath(posixpath.join(posixpath.dirname(source), ref))] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(dest), ref)
                    )
        written = []
        for source, dest in sorted(wanted.items()):
            written.append(_write(into, f"{package.folder}/{dest}", read(source)))
        if package.licence_file:
            written.append(_write(into, f"{package.folder}/{package.licence_file}", read(package.licence_file)))
        else:
            written.append(_write(into, f"{package.folder}/LICENSE", LICENCE_TEXTS[package.name].encode()))
    return written


def _write(into: Path, relative: str, data: bytes) -> str:
    path = into / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


def readme(sizes: dict[str, int]) -> str:
    rows = []
    for p in PACKAGES:
        size = sum(n for path, n in sizes.items() if path.startswith(p.folder + "/"))
        rows.append(f"| `{p.name}` | {p.version} | {p.licence} | `{p.folder}/` | {size / 1024:,.0f} kB |")
    notes = [f"- `{p.name}`: {p.note}" for p in PACKAGES if p.note]
    total = sum(sizes.values())
    return f"""# Data Docs assets (vendored)

The scripts, stylesheets and fonts that Great Expectations' Data Docs pages load from
public CDNs (GE 1.24's templates), so that the pages Restock writes under
`<data_dir>/quality/docs` work on a machine without internet. After each Data Docs
build, `restock.quality.offline_docs` copies this folder to `<docs>/static/vendor/` (only
when `manifest.json` differs) and points the pages' CDN links at the copies.

Generated by `scripts/vendor_data_docs_assets.py` from the npm registry (each tarball
checked against its pinned sha512); do not edit by hand. To refresh or change a
version: edit the pins in that script, then run

    .venv/bin/python scripts/vendor_data_docs_assets.py

| package | version | licence | folder | size |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Total {total / 1024 / 1024:.2f} MB. Each folder holds the package's licence file.
vega, vega-lite and vega-embed: GE links `vega@5`, `vega-lite@5`, `vega-embed@6`, i.e. the
newest release of each major when the page is opened; these are the newest of each
major on the day the folder was generated.

{chr(10).join(notes)}
- GE's two logo images (`logo-long.png`, `full_logo_dark.png` on GE's web-assets bucket)
  are not on npm: the light one points at the `static/images/logo-long.png` that GE itself
  copies into every site; the dark-mode one is `{DARK_LOGO_PATH}`, a text logo of ours
  (white "great_expectations", the size GE gives the image).
"""


def main() -> int:
    with tempfile.TemporaryDirectory(dir=TARGET.parent) as tmp:
        staging = Path(tmp) / "assets"
        written = []
        for package in PACKAGES:
            print(f"{package.name}@{package.version}", file=sys.stderr)
            written += extract(package, fetch(package), staging)
        written.append(_write(staging, DARK_LOGO_PATH, DARK_LOGO.encode()))
        sizes = {path: (staging / path).stat().st_size for path in written}
        manifest = {path: hashlib.sha256((staging / path).read_bytes()).hexdigest() for path in sorted(written)}
        (staging / "manifest.json").write_text(json.dumps({"files": manifest}, indent=1) + "\n", encoding="utf-8")
        (staging / "README.md").write_text(readme(sizes), encoding="utf-8")
        if TARGET.exists():
            shutil.rmtree(TARGET)
        staging.rename(TARGET)
    total = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"{TARGET}: {len(written) + 2} files, {total / 1024 / 1024:.2f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
