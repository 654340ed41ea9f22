"""Open a daily report (restock/publish/daily_report.py) in headless Chromium with the
network cut off, report what the browser saw as JSON, and optionally save a screenshot.

    python scripts/report_browser.py data/published/report/report_latest.html
    python scripts/report_browser.py page.html --width 390 --mobile          # a phone
    python scripts/report_browser.py page.html --screenshot docs/report.png  # the README's picture

The JSON holds: console errors and uncaught exceptions, every request the page made
besides itself, the page's width against the viewport's (a phone must not scroll
sideways), each chart with the points drawn per data series (SVG markers and path
vertices, and the series' drawn box), and each KPI tile's value as shown. The
browser is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``,
fds 3 and 4): no port, no third-party package. Needs Debian's ``chromium``; Chinese
labels need a CJK font (e.g. ``apt-get install fonts-wqy-microhei``) to be drawn in a
screenshot.

tests/publish/test_daily_report.py runs it on a report built by the pipeline's publishing.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

INSPECT_JS = r"""
(() => {
  const charts = [...document.querySelectorAll('figure.chart')].map(figure => {
    const svg = figure.querySelector('svg');
    const series = {};
    if (svg) {
      for (const group of svg.querySelectorAll('g[id*="series-"]')) {
        const name = group.id.replace(/^.*?series-/, '');
        let vertices = 0;
        for (const path of group.querySelectorAll('path')) {
          vertices += ((path.getAttribute('d') || '').match(/[ML]/g) || []).length;
        }
        const box = group.getBBox();
        series[name] = {markers: group.querySelectorAll('use').length, vertices,
                        width: box.width, height: box.height};
      }
    }
    const rect = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {chart: figure.dataset.chart, data: {...figure.dataset}, caption: figure.querySelector('figcaption')?.textContent,
            elements: svg ? svg.querySelectorAll('path, line, polyline, use').length : 0,
            width: rect.width, height: rect.height, series};
  });
  const tiles = [...document.querySelectorAll('.tile')].map(t => ({
    metric: t.dataset.metric, window: Number(t.dataset.window), value: t.dataset.value,
    previous: t.dataset.previous, label: t.querySelector('.label')?.textContent,
    text: t.querySelector('.value')?.textContent, delta: t.querySelector('.delta')?.textContent}));
  const tiled = [...document.querySelectorAll('.tiles')].map(g => getComputedStyle(g).display);
  return {title: document.title, lang: document.documentElement.lang, charts, tiles, tiled,
          scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          scrollHeight: document.documentElement.scrollHeight,
          sections: [...document.querySelectorAll('section')].map(s => s.id),
          headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
          verdict: document.querySelector('.verdict')?.textContent || null};
})()
"""


def offline_flags(profile: Path, reachable: tuple[str, ...] = ()) -> list[str]:
    """Flags of a headless Chromium with the network cut off: every host name but
    ``reachable`` fails to resolve and every proxied request fails (a dead proxy)."""
    excluded = "".join(f", EXCLUDE {host}" for host in reachable)
    return [
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",
        f"--host-resolver-rules=MAP * ~NOTFOUND{excluded}",
    ]


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe."""

    def __init__(self, binary: str, profile: Path, reachable: tuple[str, ...] = ()):
        """``reachable``: hosts left reachable (e.g. "127.0.0.1" for a local server);
        every other host name fails to resolve and every proxied request fails."""
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the protocol pipe must be fds 3 (commands in) and 4 (replies out) of the browser
        command = [
            binary,
            *offline_flags(profile, reachable),
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_child_r} 4>&{from_child_w}', "chromium", *command],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the protocol pipe (exit code {self.proc.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_message(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def inspect(
    page: Path,
    *,
    width: int = 1100,
    height: int = 900,
    mobile: bool = False,
    screenshot: Path | None = None,
    max_height: int = 2400,
    chromium: str | None = None,
) -> dict[str, Any]:
    """Open ``page`` and return what the browser saw (see the module docstring)."""
    binary = chromium or shutil.which("chromium")
    if binary is None:
        raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="report-browser-") as profile:
        browser = Chromium(binary, Path(profile))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                browser.send(f"{domain}.enable", session=session)
            browser.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
                session=session,
            )
            browser.events.clear()
            browser.send("Page.navigate", {"url": url}, session=session)
            browser.wait_for("Page.loadEventFired")
            result = browser.send(
                "Runtime.evaluate", {"expression": INSPECT_JS, "returnByValue": True}, session=session
            )["result"]["value"]
            if screenshot is not None:
                shot_height = min(int(result["scrollHeight"]), max_height)
                data = browser.send(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": shot_height, "scale": 1},
                    },
                    session=session,
                )["data"]
                _save_png(base64.b64decode(data), screenshot)
                result["screenshot"] = {"path": str(screenshot), "bytes": screenshot.stat().st_size}
        finally:
            browser.close()
    errors, requests = [], []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            requested = params.get("request", {}).get("url", "")
            if requested != url:
                requests.append(requested)
    result.update(console_errors=errors, requests=requests)
    return result


def _save_png(data: bytes, path: Path) -> None:
    """The screenshot as a 256-colour PNG (a fraction of the size, same look for a page
    of flat colours) when Pillow is there (matplotlib brings it), else as taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import io

        from PIL import Image
    except ImportError:  # pragma: no cover
        path.write_bytes(data)
        return
    image = Image.open(io.BytesIO(data)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--mobile", action="store_true", help="emulate a phone (use with --width 390)")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the top of the page here")
    parser.add_argument("--max-height", type=int, default=2400, help="screenshot height limit (px)")
    args = parser.parse_args(argv)
    result = inspect(
        args.page,
        width=args.width,
        height=args.height,
        mobile=args.mobile,
        screenshot=args.screenshot,
        max_height=args.max_height,
    )
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
