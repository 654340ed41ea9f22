"""Validation gates: run a Great Expectations 1.x suite on a frame, explain failures.

A suite is a JSON file ``expectations/<name>.json`` (GE 1.x ``ExpectationSuite``
form: ``name``, ``expectations`` [{type, kwargs, description, severity, meta}],
``suite_parameters``, ``meta``) that a person edits. This module:

1. loads the suite and merges the run's parameters over the suite's defaults
   (``suite_parameters`` in the JSON; GE 1.x itself ignores them at run time);
2. prepares the frame: raw values stay the delivered text, and *derived columns*
   are added for every column a suite names with one of these suffixes:

   ========== ============================================================
   ``c__num``   ``c`` parsed as a number (float64); NaN where it does not parse
   ``c__date``  ``c`` parsed as a ``YYYY-MM-DD`` date (datetime64[ns]); NaT if not
   ``c__code``  ``c`` trimmed and lower-cased (as dbt staging's ``clean_code``)
   ``c__z``     ``(c - mean) / std`` of the row's customer, from the
                ``quantity_baseline`` given to ``validate_frame`` (NaN without one)
   ``c__known`` True when ``c`` is one of the values given as parameter
                ``known_<c>s`` (``customer_id__known``: ``known_customer_ids``),
                False when not, null when ``c`` is null. The parameter is a
                collection, or a mapping day -> collection applied to each row by
                its ``_partition_date`` (several days validated in one run)
   ========== ============================================================

   So "does it parse" is checked on the text (regex / strftime expectations on
   ``c``) and ranges / dates on the typed twin (``c__num`` / ``c__date``, which
   GE's between-expectations skip when null): each bad value is reported once,
   under the delivered column name;
3. runs the suite (ephemeral GE context, pandas data source, whole-dataframe batch,
   ``result_format`` SUMMARY with ``_source_file`` / ``_source_row`` as the unexpected
   index columns) and optionally writes Data Docs to a folder;
4. returns a ``GateResult``: passed, the failing expectations with up to five
   failing rows each (file, row, delivered value) and a readable ``message()``.

Dates in parameters (``partition_date``, ``today``) may be ``date`` objects or
``YYYY-MM-DD`` strings: they are passed to GE as ``datetime`` at midnight, because
GE's pydantic models turn an ISO *string* into a ``date``, which pandas refuses to
compare with a datetime64 column.

``validate_days`` validates several days' frames (one landing file each) with one
GE run and gives a verdict per day: GE's fixed cost is ~0.3 s per run whatever the
size, which dominates a backfill of hundreds of small daily files.

Pure code: no Dagster import; ``great_expectations`` is imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from restock.ingest.contract import EXTRACTS, PARTITION_COLUMN
from restock.settings import PROJECT_ROOT

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

EXPECTATIONS_DIR_ENV = "RESTOCK_EXPECTATIONS_DIR"
DEFAULT_EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
INDEX_COLUMNS = [SOURCE_FILE, SOURCE_ROW]
SAMPLE_ROWS = 5
DERIVED_SUFFIXES = ("__num", "__date", "__code", "__z", "__known")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COLUMN_KWARGS = ("column", "column_A", "column_B")


class SuiteError(ValueError):
    """A suite file is missing or invalid, or a parameter it needs was not given."""


# --------------------------------------------------------------------------- suites


def expectations_dir() -> Path:
    value = os.environ.get(EXPECTATIONS_DIR_ENV)
    return Path(value).expanduser().resolve() if value else DEFAULT_EXPECTATIONS_DIR


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
        raise SuiteError(f"{path}: expected an object whose \"name\" is {name!r}")
    expectations = suite.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{path}: \"expectations\" must be a non-empty list")
    for i, exp in enumerate(expectations):
        if not isinstance(exp, dict) or not isinstance(exp.get("type"), str) or not isinstance(
            exp.get("kwargs"), dict
        ):
            raise SuiteError(f"{path}: expectation #{i + 1} needs a \"type\" string and a \"kwargs\" object")
    return suite


def referenced_parameters(suite: dict[str, Any]) -> set[str]:
    """Names used as ``{"$PARAMETER": name}`` anywhere in the suite's kwargs, and the
    ``known_<c>s`` parameter of every ``c__known`` column the suite names."""
    names = _ge_parameters(suite)
    names.update(known_parameter(base_column(c)) for c in referenced_columns(suite) if c.endswith("__known"))
    return names


def _ge_parameters(suite: dict[str, Any]) -> set[str]:
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
        for key in _COLUMN_KWARGS:
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
            "validate_frame(parameters=...) or give defaults under \"suite_parameters\" in "
            f"{suite['name']}.json"
        )
    return {k: v if isinstance(v, Mapping) else _parameter_value(v) for k, v in merged.items()}


def _parameter_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str) and ISO_DAY.match(value):
        return datetime.fromisoformat(value)
    if isinstance(value, (set, frozenset, tuple)) or type(value).__name__ in ("ndarray", "Series", "Index"):
        return sorted(str(v) for v in value if v is not None)
    return value


# --------------------------------------------------------------------- the frame


def quantity_baseline(
    history: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    min_lines: int = 8,
    min_std: float = 1.0,
    include_cancelled: bool = False,
) -> pd.DataFrame:
    """Per-customer mean and std of the line quantity, for the ``quantity__z`` outlier check.

    ``history``: earlier order lines (``customer_id``, ``quantity`` as text or number,
    optionally ``status``); cancelled lines are left out unless ``include_cancelled``.
    A customer with fewer than ``min_lines`` lines gets the pooled figures of its tier
    when ``customers`` (``customer_id``, ``tier``) is given, so a new shop is judged
    against shops of its size; without a tier it keeps its own figures if it has any
    line. ``std`` is floored at ``min_std`` so a customer who always orders the same
    quantity is not flagged for ordering one more.

    Returns a frame indexed by ``customer_id`` with ``mean``, ``std``, ``n``, ``basis``
    (``customer`` / ``tier``).
    """
    import numpy as np
    import pandas as pd

    h = pd.DataFrame({
        "customer_id": history["customer_id"].astype("string").str.strip(),
        "q": pd.to_numeric(history["quantity"], errors="coerce"),
    })
    if "status" in history.columns and not include_cancelled:
        keep = history["status"].astype("string").str.strip().str.lower().ne("cancelled").fillna(True)
        h = h[keep.to_numpy()]
    h = h.dropna()
    own = h.groupby("customer_id")["q"].agg(mean="mean", std=lambda s: s.std(ddof=0), n="count")
    own["basis"] = "customer"
    if customers is not None and "tier" in customers.columns:
        tiers = pd.DataFrame({
            "customer_id": customers["customer_id"].astype("string").str.strip(),
            "tier": pd.to_numeric(customers["tier"], errors="coerce"),
        }).dropna().drop_duplicates("customer_id")
        ht = h.merge(tiers, on="customer_id")
        by_tier = ht.groupby("tier")["q"].agg(mean="mean", std=lambda s: s.std(ddof=0), n="count")
        few = tiers[~tiers["customer_id"].isin(own.index[own["n"] >= min_lines])]
        pooled = few.merge(by_tier, left_on="tier", right_index=True).set_index("customer_id")
        pooled = pooled[["mean", "std", "n"]].assign(basis="tier")
        own = pd.concat([own[own["n"] >= min_lines], pooled, own[~own.index.isin(pooled.index) & (own["n"] < min_lines)]])
    own["std"] = np.maximum(own["std"].fillna(0.0).to_numpy(dtype=float), min_std)
    own.index.name = "customer_id"
    return own


def prepare_frame(
    suite: dict[str, Any],
    df: pd.DataFrame,
    parameters: dict[str, Any] | None = None,
    baseline: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The frame GE validates: ``df`` plus what the suite's column names ask for.

    Adds, when missing: optional contract columns of the suite's extract (as nulls,
    like the loader does), ``_source_file`` / ``_source_row`` (None / 1..n), and
    ``_partition_date`` (the ``partition_date`` parameter: a frame read straight from
    a landing file is that day's). Then the derived columns (module docstring). A
    derived column whose base column is absent is not added: the expectation on it
    fails with "column does not exist", naming the column.
    """
    import pandas as pd

    frame = df.copy(deep=False)
    frame.columns = [str(c) for c in frame.columns]
    extract = EXTRACTS.get((suite.get("meta") or {}).get("extract", ""))
    if extract is not None:
        for col in extract.columns:
            if col not in frame.columns and col not in extract.required:
                frame[col] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if SOURCE_FILE not in frame.columns:
        frame[SOURCE_FILE] = None
    if SOURCE_ROW not in frame.columns:
        frame[SOURCE_ROW] = range(1, len(frame) + 1)
    if PARTITION_COLUMN not in frame.columns and parameters and parameters.get("partition_date") is not None:
        frame[PARTITION_COLUMN] = _parameter_value(parameters["partition_date"])
    for col in referenced_columns(suite):
        base = base_column(col)
        if col == base or col in frame.columns or base not in frame.columns:
            continue
        if col.endswith("__num"):
            frame[col] = _as_number(frame[base])
        elif col.endswith("__date"):
            frame[col] = _as_date(frame[base])
        elif col.endswith("__code"):
            frame[col] = frame[base].astype("string").str.strip().str.lower().astype(object)
        elif col.endswith("__z"):
            frame[col] = _zscore(frame, base, baseline)
        elif col.endswith("__known"):
            frame[col] = _known(frame, base, (parameters or {}).get(known_parameter(base)))
    # One block per dtype: GE filters and copies the frame for every metric, and a frame
    # built column by column would be re-consolidated each time (~40% of a large run).
    return frame.copy()


def _as_number(s: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_numeric(s, errors="coerce").astype("float64")


def _as_date(s: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return out.astype("datetime64[ns]")
    non_null = s.dropna()
    if len(non_null) and all(isinstance(v, (date, pd.Timestamp)) for v in non_null.head(50)):
        return pd.to_datetime(s, errors="coerce").astype("datetime64[ns]")
    return pd.to_datetime(s.astype("string"), format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")


def _zscore(frame: pd.DataFrame, base: str, baseline: pd.DataFrame | None) -> pd.Series:
    import numpy as np
    import pandas as pd

    if baseline is None or len(frame) == 0 or "customer_id" not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    key = frame["customer_id"].astype("string").str.strip()
    mean = key.map(baseline["mean"]).astype("float64")
    std = key.map(baseline["std"]).astype("float64")
    return ((_as_number(frame[base]) - mean) / std).astype("float64")


def _known(frame: pd.DataFrame, base: str, known: Any) -> pd.Series:
    import numpy as np
    import pandas as pd

    values = frame[base]
    out = np.full(len(frame), None, dtype=object)
    if known is None or len(frame) == 0:
        return pd.Series(out, index=frame.index, dtype=object)
    text = values.astype("string")
    filled = values.notna().to_numpy()
    if isinstance(known, Mapping):
        # One set per day, applied to each row by its _partition_date.
        sets = {pd.Timestamp(day).normalize(): {str(v) for v in ids} for day, ids in known.items()}
        days = _as_date(frame[PARTITION_COLUMN]) if PARTITION_COLUMN in frame.columns else None
        result = np.zeros(len(frame), dtype=bool)
        if days is not None:
            for day, positions in pd.Series(np.arange(len(frame))).groupby(days.to_numpy()).groups.items():
                ids = sets.get(pd.Timestamp(day), set())
                idx = np.asarray(positions)
                result[idx] = text.iloc[idx].isin(ids).fillna(False).to_numpy(dtype=bool)
    else:
        result = text.isin({str(v) for v in known}).fillna(False).to_numpy(dtype=bool)
    out[filled] = result[filled]
    return pd.Series(out, index=frame.index, dtype=object)


# ------------------------------------------------------------------- the results


@dataclass(frozen=True)
class FailedRow:
    source_file: str | None
    source_row: int | None
    values: dict[str, Any]  # delivered column -> value (derived value too, e.g. quantity__z)

    def describe(self) -> str:
        where = f"{self.source_file or '<frame>'} row {self.source_row}"
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        return f"{where}: {shown}"


@dataclass(frozen=True)
class FailedExpectation:
    expectation_type: str
    columns: tuple[str, ...]  # as delivered (derived suffixes stripped)
    checked_columns: tuple[str, ...]  # as the suite names them
    severity: str
    description: str
    unexpected_count: int | None
    element_count: int | None
    rows: tuple[FailedRow, ...]
    error: str | None = None  # GE raised (e.g. a column is missing)
    observed: str | None = None  # a table- or column-level check: what was found

    @property
    def column(self) -> str | None:
        return ", ".join(self.columns) or None

    def describe(self) -> str:
        what = self.description or self.expectation_type
        head = f"{self.column or '(table)'}: {what} [{self.expectation_type}]"
        if self.error:
            return f"{head}: {self.error}"
        if self.unexpected_count is not None:
            head += f": {self.unexpected_count} of {self.element_count} rows"
        elif self.observed:
            head += f": {self.observed}"
        lines = [head] + [f"    {r.describe()}" for r in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class GateResult:
    suite_name: str
    passed: bool
    row_count: int
    evaluated: int
    failures: tuple[FailedExpectation, ...]  # severity critical: these block
    warnings: tuple[FailedExpectation, ...] = ()  # severity warning / info: reported only
    partition_date: date | None = None
    data_docs_path: Path | None = None
    elapsed_s: float = 0.0
    source_files: tuple[str, ...] = field(default_factory=tuple)

    def message(self) -> str:
        day = f" for {self.partition_date}" if self.partition_date else ""
        files = f" ({', '.join(self.source_files)})" if self.source_files else ""
        if self.passed:
            head = f"{self.suite_name}{day}: passed {self.evaluated} expectations on {self.row_count} rows{files}"
        else:
            head = (
                f"{self.suite_name}{day}: FAILED {len(self.failures)} of {self.evaluated} expectations "
                f"on {self.row_count} rows{files}"
            )
        parts = [head] + [f"- {f.describe()}" for f in self.failures]
        parts += [f"- (warning) {w.describe()}" for w in self.warnings]
        if self.data_docs_path:
            parts.append(f"Data Docs: {self.data_docs_path}")
        return "\n".join(parts)

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for an asset-check / log record."""
        return {
            "suite": self.suite_name,
            "passed": self.passed,
            "rows": self.row_count,
            "evaluated": self.evaluated,
            "failed": [
                {"type": f.expectation_type, "column": f.column, "unexpected_count": f.unexpected_count,
                 "element_count": f.element_count, "error": f.error,
                 "rows": [{"source_file": r.source_file, "source_row": r.source_row,
                           "values": {k: _show(v) for k, v in r.values.items()}} for r in f.rows]}
                for f in self.failures
            ],
            "warnings": len(self.warnings),
            "data_docs": str(self.data_docs_path) if self.data_docs_path else None,
        }


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    try:
        import pandas as pd

        if pd.isna(value):
            return "NULL"
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10] if getattr(value, "hour", 0) == 0 else value.isoformat()
    return repr(str(value))


# ------------------------------------------------------------------ the GE runner


class _Runner:
    """One ephemeral GE context per process, reused (context creation costs ~0.5 s)."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        # No progress bars in logs; and no Data Docs into the default site, which is a
        # fresh temp folder nobody cleans.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        for site in list(self.context.config.data_docs_sites or {}):
            self.context.delete_data_docs_site(site)
        self.asset = self.context.data_sources.add_pandas("restock_gates").add_dataframe_asset("frame")
        self.batch_definition = self.asset.add_batch_definition_whole_dataframe("whole_frame")
        self._definitions: dict[str, tuple[str, Any]] = {}  # suite name -> (fingerprint, definition)
        self._sites: dict[Path, str] = {}

    def definition(self, suite: dict[str, Any]):
        """The ValidationDefinition for this suite dict, rebuilt when the dict changed."""
        from great_expectations.core.expectation_suite import ExpectationSuite

        fingerprint = hashlib.sha1(json.dumps(suite, sort_keys=True, default=str).encode()).hexdigest()
        cached = self._definitions.get(suite["name"])
        if cached and cached[0] == fingerprint:
            return cached[1]
        gx_suite = ExpectationSuite(
            name=suite["name"],
            expectations=suite["expectations"],
            meta=suite.get("meta") or {},
            notes=suite.get("notes"),
        )
        if len(gx_suite.expectations) != len(suite["expectations"]):
            known = {e.expectation_type for e in gx_suite.expectations}
            bad = [e["type"] for e in suite["expectations"] if e["type"] not in known]
            raise SuiteError(
                f"suite {suite['name']!r}: Great Expectations rejected "
                f"{len(suite['expectations']) - len(gx_suite.expectations)} expectation(s) "
                f"(unknown type or invalid kwargs; types involved: {bad or 'see log'})"
            )
        if cached:
            self.context.validation_definitions.delete(suite["name"])
            self.context.suites.delete(suite["name"])
        gx_suite = self.context.suites.add(gx_suite)
        definition = self.context.validation_definitions.add(
            self.gx.ValidationDefinition(name=suite["name"], data=self.batch_definition, suite=gx_suite)
        )
        self._definitions[suite["name"]] = (fingerprint, definition)
        return definition

    def site_for(self, directory: Path) -> str:
        directory = directory.resolve()
        if directory not in self._sites:
            name = "restock_" + hashlib.sha1(str(directory).encode()).hexdigest()[:10]
            self.context.add_data_docs_site(
                name,
                {
                    "class_name": "SiteBuilder",
                    "show_how_to_buttons": False,
                    "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                                      "base_directory": str(directory)},
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                },
            )
            self._sites[directory] = name
        return self._sites[directory]

    def run(self, suite: dict[str, Any], frame: pd.DataFrame, parameters: dict[str, Any], run_name: str,
            data_docs_dir: Path | None, complete: bool = False):
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        definition = self.definition(suite)
        run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(timezone.utc))
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            # COMPLETE (every failing row, with its day) when several days share a run.
            result_format={
                "result_format": "COMPLETE" if complete else "SUMMARY",
                "unexpected_index_column_names": [*INDEX_COLUMNS, PARTITION_COLUMN] if complete else INDEX_COLUMNS,
                "partial_unexpected_count": SAMPLE_ROWS,
            },
            run_id=run_id,
        )
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite["name"]),
            run_id=run_id,
            batch_identifier=result.batch_id,
        )
        page = None
        try:
            if data_docs_dir is not None:
                site = self.site_for(Path(data_docs_dir))
                self.context.build_data_docs(site_names=[site], resource_identifiers=[key])
                urls = self.context.get_docs_sites_urls(resource_identifier=key, site_names=[site])
                url = urls[0]["site_url"] if urls else None
                page = Path(unquote(url.removeprefix("file://"))) if url else None
        finally:
            # The ephemeral store keeps every result in memory: drop it, the pages are written.
            store = self.context.validation_results_store
            if store.has_key(key):
                store.remove_key(key)
        return result, page


_RUNNER: _Runner | None = None
_LOCK = threading.Lock()


def _runner() -> _Runner:
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = _Runner()
    return _RUNNER


# ------------------------------------------------------------------------- the API


def validate_frame(
    suite_name: str,
    df: pd.DataFrame,
    parameters: dict[str, Any] | None = None,
    *,
    data_docs_dir: Path | str | None = None,
    quantity_baseline: pd.DataFrame | None = None,
    directory: Path | None = None,
) -> GateResult:
    """Validate ``df`` against ``expectations/<suite_name>.json``.

    ``parameters``: values for the suite's ``$PARAMETER`` names (e.g. ``partition_date``,
    ``known_customer_ids``, ``known_skus``); suite defaults fill the rest; a missing
    one raises ``SuiteError`` before anything runs. ``quantity_baseline``: the output
    of ``quantity_baseline()`` for the outlier check (without it that check has nothing
    to compare with and passes). ``data_docs_dir``: also write the Data Docs site there
    (index.html + one page for this validation; ``GateResult.data_docs_path``).

    ``passed`` is False when any expectation of severity ``critical`` (the default)
    fails or raises; ``warning`` / ``info`` failures are listed in ``warnings``.
    """
    t0 = time.perf_counter()
    suite = load_suite(suite_name, directory)
    params = resolve_parameters(suite, parameters)
    frame = prepare_frame(suite, df, params, quantity_baseline)
    partition = params.get("partition_date")
    run_name = f"{suite_name}_{partition.date().isoformat()}" if isinstance(partition, datetime) else suite_name
    with _LOCK:
        result, page = _runner().run(suite, frame, _run_parameters(suite, params, frame), run_name,
                                     Path(data_docs_dir) if data_docs_dir is not None else None)
    failures, warnings = _failures(result, frame)
    files = tuple(sorted({str(f) for f in frame[SOURCE_FILE].dropna().unique()})) if len(frame) else ()
    return GateResult(
        suite_name=suite_name,
        passed=not failures,
        row_count=len(frame),
        evaluated=len(result.results),
        failures=failures,
        warnings=warnings,
        partition_date=partition.date() if isinstance(partition, datetime) else None,
        data_docs_path=page,
        elapsed_s=time.perf_counter() - t0,
        source_files=files[:3],
    )


def _run_parameters(suite: dict[str, Any], params: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """What GE gets: only the parameters its kwargs name (a per-day ``known_*`` mapping
    is used by ``prepare_frame``, not by GE), value sets cut to the frame's values."""
    wanted = _ge_parameters(suite)
    return _shrink_value_sets(suite, {k: v for k, v in params.items() if k in wanted}, frame)


def _shrink_value_sets(suite: dict[str, Any], params: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """Cut a parameterised ``value_set`` down to the known values present in the frame.

    Same verdict (a value absent from the frame cannot matter to an in-set check),
    much cheaper: GE 1.24 re-serialises every expectation's kwargs through pydantic
    hundreds of times per run, so a 2,000-id list costs ~0.4 s and 20,000 ids ~4 s.
    """
    present: dict[str, set[str]] = {}
    for exp in suite["expectations"]:
        value_set, column = exp["kwargs"].get("value_set"), exp["kwargs"].get("column")
        if (exp["type"] == "expect_column_values_to_be_in_set" and isinstance(value_set, dict)
                and "$PARAMETER" in value_set and isinstance(column, str) and column in frame.columns):
            values = {str(v) for v in frame[column].dropna().unique()}
            present.setdefault(value_set["$PARAMETER"], set()).update(values)
    if not present:
        return params
    out = dict(params)
    for name, values in present.items():
        known = params.get(name)
        if isinstance(known, list):
            out[name] = sorted(values.intersection(map(str, known)))
    return out


def _failures(result, frame: pd.DataFrame) -> tuple[tuple[FailedExpectation, ...], tuple[FailedExpectation, ...]]:
    failures: list[FailedExpectation] = []
    warnings: list[FailedExpectation] = []
    rows = _RowFinder(frame, INDEX_COLUMNS)
    for r in result.results:
        error = _error(r.exception_info)
        if r.success and not error:
            continue
        res = r.result or {}
        failed = _failed_expectation(r, rows, res.get("partial_unexpected_index_list") or [],
                                     res.get("unexpected_count"), res.get("element_count"), error)
        (failures if failed.severity == "critical" else warnings).append(failed)
    order = {e: i for i, e in enumerate(r.expectation_config.type for r in result.results)}
    failures.sort(key=lambda f: (f.columns, order.get(f.expectation_type, 0)))
    return tuple(failures), tuple(warnings)


class _RowFinder:
    """Position in the frame of a failing row GE reports by its index columns."""

    def __init__(self, frame: pd.DataFrame, index_columns: list[str]) -> None:
        self.frame, self.index_columns = frame, index_columns
        self._positions: dict[tuple[Any, ...], int] | None = None

    @staticmethod
    def _key(values) -> tuple[Any, ...]:
        return tuple(_int(v) if i == 1 else _day_key(v) if i == 2 else v for i, v in enumerate(values))

    def position(self, item: dict[str, Any]) -> int | None:
        if self._positions is None:
            cols = [self.frame[c] for c in self.index_columns]
            self._positions = {self._key(values): i for i, values in enumerate(zip(*cols))}
        return self._positions.get(self._key([item.get(c) for c in self.index_columns]))


def _day_key(value: Any) -> Any:
    try:
        import pandas as pd

        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return value


def _severity(config) -> str:
    severity = str(getattr(config, "severity", "critical") or "critical")
    return getattr(severity, "value", severity).split(".")[-1].lower()


def _failed_expectation(r, rows: _RowFinder, sample: list, unexpected_count: int | None,
                        element_count: int | None, error: str | None) -> FailedExpectation:
    frame = rows.frame
    config = r.expectation_config
    kwargs = config.kwargs
    checked = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
    checked += list(kwargs.get("column_list") or [])
    # Delivered columns first, lineage (_partition_date...) last: "opened_on, _partition_date".
    checked.sort(key=lambda c: c.startswith("_"))
    delivered = tuple(dict.fromkeys(base_column(c) for c in checked))
    failed_rows = []
    for item in sample[:SAMPLE_ROWS]:
        if not isinstance(item, dict):
            continue
        pos = rows.position(item)
        values: dict[str, Any] = {}
        for col in checked:
            base = base_column(col)
            if pos is not None and base in frame.columns:
                values.setdefault(base, frame[base].iloc[pos])
            if col != base:
                values[col] = item.get(col, frame[col].iloc[pos] if pos is not None and col in frame else None)
        failed_rows.append(FailedRow(item.get(SOURCE_FILE), _int(item.get(SOURCE_ROW)), values))
    res = r.result or {}
    return FailedExpectation(
        expectation_type=config.type,
        columns=delivered,
        checked_columns=tuple(checked),
        severity=_severity(config),
        description=getattr(config, "description", None) or "",
        unexpected_count=unexpected_count,
        element_count=element_count,
        rows=tuple(failed_rows),
        error=error or (None if res else "failed" if config.type != "expect_column_to_exist" else "column is missing"),
        observed=_observed(config.type, kwargs, res),
    )


def _observed(expectation_type: str, kwargs: Any, res: dict) -> str | None:
    """What an aggregate check (no failing rows to show) found, in words."""
    if res.get("unexpected_count") is not None:
        return None
    if "missing_count" in res:  # e.g. distinct values must contain a set
        missing = [str(v) for v in res.get("partial_missing_list") or []]
        more = int(res["missing_count"]) - len(missing[:10])
        return f"{res['missing_count']} expected value(s) absent: {', '.join(missing[:10])}" + (
            f" and {more} more" if more > 0 else "")
    if "observed_value" not in res:
        return None
    value = res["observed_value"]
    if expectation_type == "expect_table_row_count_to_be_between":
        return f"{value} rows (expected {kwargs.get('min_value')}..{kwargs.get('max_value') or 'any'})"
    text = str(value)
    return f"observed {text[:200]}"


# ------------------------------------------------------------- several days, one run

# Expectation types whose verdict is made of per-row verdicts, so one run over several
# days can be split by the failing rows' day. Uniqueness must be keyed by the day
# (expect_compound_columns_to_be_unique with _partition_date in column_list).
_ROW_LEVEL_PREFIXES = ("expect_column_values_to_", "expect_column_pair_values_", "expect_multicolumn_",
                       "expect_select_column_values_")
_CROSS_ROW = ("expect_column_values_to_be_unique", "expect_column_values_to_be_increasing",
              "expect_column_values_to_be_decreasing")
_ROW_COUNT = "expect_table_row_count_to_be_between"


def batch_blockers(suite: dict[str, Any]) -> list[str]:
    """Why this suite cannot validate several days in one run (empty list: it can)."""
    why = []
    for exp in suite["expectations"]:
        kind, kw = exp["type"], exp["kwargs"]
        if kind == "expect_compound_columns_to_be_unique":
            if PARTITION_COLUMN not in (kw.get("column_list") or []):
                why.append(f"{kind} {kw.get('column_list')} is not keyed by {PARTITION_COLUMN}")
        elif kind in _CROSS_ROW:
            why.append(f"{kind} on {kw.get('column')} compares rows of different days")
        elif not (kind.startswith(_ROW_LEVEL_PREFIXES) or kind in ("expect_column_to_exist", _ROW_COUNT)):
            why.append(f"{kind} is not a per-row rule")
    return why


def validate_days(
    suite_name: str,
    frames: Mapping[date, pd.DataFrame],
    parameters: dict[str, Any] | None = None,
    *,
    data_docs_dir: Path | str | None = None,
    quantity_baseline: pd.DataFrame | None = None,
    directory: Path | None = None,
) -> dict[date, GateResult]:
    """``validate_frame`` for each day's frame (``frames``: day -> that day's rows), in
    as few GE runs as the verdicts allow; the same verdicts as one run per day.

    Days with rows are validated together (``window_start`` / ``window_end`` = the first
    and last day, ``_partition_date`` = the day when the frame has none); every failing
    row is attributed to its day. A day without a blocking failure gets its result from
    that run (warnings with that day's counts and rows). A day with a blocking failure,
    a day without rows, a day whose rows are not all of that day or whose columns differ,
    and every day when a table-level rule fails, is validated again on its own: its
    result (message, counts, sample rows) is exactly ``validate_frame``'s, and its Data
    Docs page is written when ``data_docs_dir`` is given. Per-day parameters: give
    ``known_*`` as a mapping day -> values. ``partition_date`` is set per day.
    A suite with rules that are not per-row (``batch_blockers``) runs once per day.
    """
    import pandas as pd

    t0 = time.perf_counter()
    suite = load_suite(suite_name, directory)
    days = sorted(frames)
    common = {k: v for k, v in (parameters or {}).items() if k not in ("partition_date", "window_start", "window_end")}

    def alone(day: date) -> GateResult:
        return validate_frame(suite_name, frames[day], {**common, "partition_date": day},
                              data_docs_dir=data_docs_dir, quantity_baseline=quantity_baseline, directory=directory)

    if len(days) < 2 or batch_blockers(suite):
        return {day: alone(day) for day in days}
    recheck: set[date] = set()
    parts, batch_days = [], []
    columns = None
    for day in days:
        frame = frames[day]
        if len(frame) == 0:
            recheck.add(day)
            continue
        if columns is None:
            columns = list(frame.columns)
        if list(frame.columns) != columns:
            recheck.add(day)
            continue
        if PARTITION_COLUMN in frame.columns:
            if not (_as_date(frame[PARTITION_COLUMN]) == pd.Timestamp(day)).all():
                recheck.add(day)
                continue
        else:
            frame = frame.assign(**{PARTITION_COLUMN: pd.Timestamp(day)})
        parts.append(frame)
        batch_days.append(day)
    results: dict[date, GateResult] = {}
    if len(batch_days) < 2:
        recheck.update(batch_days)
    else:
        df = pd.concat(parts, ignore_index=True)
        params = resolve_parameters(suite, {**common, "window_start": batch_days[0], "window_end": batch_days[-1]})
        frame = prepare_frame(suite, df, params, quantity_baseline)
        with _LOCK:
            result, _ = _runner().run(suite, frame, _run_parameters(suite, params, frame),
                                      f"{suite_name}_{batch_days[0]}_{batch_days[-1]}", None, complete=True)
        rows = _RowFinder(frame, [*INDEX_COLUMNS, PARTITION_COLUMN])
        day_rows = {day: len(frames[day]) for day in batch_days}
        warnings: dict[date, list[FailedExpectation]] = {day: [] for day in batch_days}
        for r in result.results:
            error = _error(r.exception_info)
            if r.success and not error:
                continue
            items = (r.result or {}).get("unexpected_index_list")
            if error or not isinstance(items, list) or not items:
                recheck.update(batch_days)  # table-level, or GE raised: each day on its own
                continue
            by_day: dict[date, list] = {}
            for item in items:
                by_day.setdefault(_day_key(item.get(PARTITION_COLUMN)), []).append(item)
            if not by_day.keys() <= warnings.keys():  # a row GE could not place: each day on its own
                recheck.update(batch_days)
                continue
            critical = _severity(r.expectation_config) == "critical"
            for day, day_items in by_day.items():
                if critical:
                    recheck.add(day)
                else:
                    warnings[day].append(_failed_expectation(r, rows, day_items, len(day_items), day_rows[day], None))
        for exp in suite["expectations"]:  # evaluated on the whole run above: redo per day
            if exp["type"] == _ROW_COUNT:
                low, high = (params.get(v["$PARAMETER"]) if isinstance(v, dict) else v
                             for v in (exp["kwargs"].get("min_value"), exp["kwargs"].get("max_value")))
                recheck.update(day for day, n in day_rows.items()
                               if (low is not None and n < low) or (high is not None and n > high))
        share = (time.perf_counter() - t0) / len(batch_days)
        for day in batch_days:
            if day in recheck:
                continue
            files = tuple(sorted({str(f) for f in frames[day][SOURCE_FILE].dropna().unique()})) \
                if SOURCE_FILE in frames[day].columns else ()
            results[day] = GateResult(
                suite_name=suite_name, passed=True, row_count=day_rows[day], evaluated=len(result.results),
                failures=(), warnings=tuple(warnings[day]), partition_date=day, elapsed_s=share,
                source_files=files[:3],
            )
    for day in sorted(recheck):
        results[day] = alone(day)
    return {day: results[day] for day in days}


def _error(info: Any) -> str | None:
    """GE 1.x puts a raised error either at the top level or keyed by metric id."""
    if not info:
        return None
    if isinstance(info, dict) and info.get("raised_exception"):
        return str(info.get("exception_message"))
    messages = [
        str(v.get("exception_message")) for v in (info.values() if isinstance(info, dict) else [])
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
