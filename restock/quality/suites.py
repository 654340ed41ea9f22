"""Expectation suites: load ``expectations/<name>.json`` and resolve its parameters.

A suite is a JSON file in GE 1.x ``ExpectationSuite`` form (``name``,
``expectations`` [{type, kwargs, description, severity, meta}], ``suite_parameters``,
``meta``) that a person edits. The run's parameters are merged over the suite's
defaults (``suite_parameters``; GE 1.x itself ignores them at run time).

Dates in parameters (``partition_date``, ``today``) may be ``date`` objects or
``YYYY-MM-DD`` strings: they are passed to GE as ``datetime`` at midnight, because
GE's pydantic models turn an ISO *string* into a ``date``, which pandas refuses to
compare with a datetime64 column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from restock.settings import expectations_dir

DERIVED_SUFFIXES = ("__num", "__date", "__code", "__z", "__known")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COLUMN_KWARGS = ("column", "column_A", "column_B")


class SuiteError(ValueError):
    """A suite file is missing or invalid, or a parameter it needs was not given."""


def suite_path(name: str, directory: Path | None = None) -> Path:
    return (directory or expectations_dir()) / f"{name}.json"


def load_suite(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The suite ``<directory>/<name>.json`` as a dict (checked for shape, not for GE types).

    ``validate_frame`` also checks that GE knows every expectation type: GE 1.x's
    ``ExpectationSuite(...)`` only *logs* an invalid expectation and drops it.
    """
    path = suite_path(name, directory)
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SuiteError(f"no expectation suite {name!r}: {path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(suite, dict) or suite.get("name") != name:
        raise SuiteError(f'{path}: expected an object whose "name" is {name!r}')
    expectations = suite.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f'{path}: "expectations" must be a non-empty list')
    for i, exp in enumerate(expectations):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(exp.get("kwargs"), dict):
            raise SuiteError(f'{path}: expectation #{i + 1} needs a "type" string and a "kwargs" object')
    return suite


def referenced_parameters(suite: dict[str, Any]) -> set[str]:
    """Names used as ``{"$PARAMETER": name}`` anywhere in the suite's kwargs, and the
    ``known_<c>s`` parameter of every ``c__known`` column the suite names."""
    names = ge_parameters(suite)
    names.update(known_parameter(base_column(c)) for c in referenced_columns(suite) if c.endswith("__known"))
    return names


def ge_parameters(suite: dict[str, Any]) -> set[str]:
    """Names used as ``{"$PARAMETER": name}`` in the suite's kwargs: the ones GE reads."""
    names: set[str] = set()
    for exp in suite["expectations"]:
        for value in exp["kwargs"].values():
            if isinstance(value, dict) and "$PARAMETER" in value:
                names.add(value["$PARAMETER"])
    return names


def known_parameter(column: str) -> str:
    """The parameter holding the known values of ``column`` (``sku`` -> ``known_skus``)."""
    return f"known_{column}s"


def referenced_columns(suite: dict[str, Any]) -> list[str]:
    cols: list[str] = []
    for exp in suite["expectations"]:
        kw = exp["kwargs"]
        for key in COLUMN_KWARGS:
            if isinstance(kw.get(key), str):
                cols.append(kw[key])
        if isinstance(kw.get("column_list"), list):
            cols.extend(kw["column_list"])
    return list(dict.fromkeys(cols))


def base_column(column: str) -> str:
    for suffix in DERIVED_SUFFIXES:
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def resolve_parameters(suite: dict[str, Any], parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Suite defaults, then the caller's values; ``today`` defaults to the run date.

    Raises ``SuiteError`` naming any parameter the suite uses that has no value.
    """
    merged: dict[str, Any] = dict(suite.get("suite_parameters") or {})
    merged.setdefault("today", date.today())
    merged.update(parameters or {})
    if merged.get("partition_date") is not None:
        # One day validated: the window of days the rows may belong to is that day.
        merged.setdefault("window_start", merged["partition_date"])
        merged.setdefault("window_end", merged["partition_date"])
    missing = sorted(referenced_parameters(suite) - merged.keys())
    if missing:
        hint = " (partition_date sets both window_start and window_end)" if "window_start" in missing else ""
        raise SuiteError(
            f"suite {suite['name']!r} needs parameter(s) {', '.join(missing)}{hint}; pass them in "
            'validate_frame(parameters=...) or give defaults under "suite_parameters" in '
            f"{suite['name']}.json"
        )
    return {k: v if isinstance(v, Mapping) else parameter_value(v) for k, v in merged.items()}


def parameter_value(value: Any) -> Any:
    """``value`` as GE compares it: days as naive datetimes, collections as sorted text."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and ISO_DAY.match(value):
        return datetime.fromisoformat(value)
    if isinstance(value, (set, frozenset, tuple)) or type(value).__name__ in ("ndarray", "Series", "Index"):
        return sorted(str(v) for v in value if v is not None)
    return value
