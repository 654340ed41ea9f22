"""scripts/report_browser.py (a script, not a package) for the tests that open pages
in headless Chromium: its ``Chromium`` driver and ``offline_flags``."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from restock.settings import PROJECT_ROOT


def report_browser() -> ModuleType:
    spec = importlib.util.spec_from_file_location("report_browser", PROJECT_ROOT / "scripts" / "report_browser.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
