"""Running a suite through Great Expectations 1.x and reading what it found.

One ephemeral GE context per process, a pandas data source and a whole-dataframe
batch; ``result_format`` SUMMARY with ``_source_file`` / ``_source_row`` as the
unexpected index columns (COMPLETE, keyed by the day too, when several days share a
run: ``screen_suite`` asks pass/fail of the whole suite, then the failing rows of the
failing expectations only); Data Docs optionally written to a folder (made to work
offline after each build: ``offline_docs``; its index lists the validations of earlier
processes too, for ``docs_site.KEEP_DAYS``: ``docs_site``). GE's results
are then read into ``FailedExpectation`` / ``FailedRow`` (up to ``SAMPLE_ROWS`` rows
each). The strftime check runs once per distinct value (``ge_metrics``).

``great_expectations`` is imported when the first suite runs, not on import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from restock.contract import PARTITION_COLUMN
from restock.quality import docs_site
from restock.quality.frames import INDEX_COLUMNS, SOURCE_FILE, SOURCE_ROW
from restock.quality.offline_docs import localize_site
from restock.quality.results import FailedExpectation, FailedRow
from restock.quality.suites import COLUMN_KWARGS, SuiteError, base_column, ge_parameters

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SAMPLE_ROWS = 5
log = logging.getLogger(__name__)


def localize_docs(docs_dir: Path, started: float | None = None) -> None:
    """After a Data Docs build: the site made to work offline (``offline_docs``); a CDN
    URL GE emits that the mapping does not know is logged (tests fail on it)."""
    report = localize_site(docs_dir, since=started)
    for page, urls in report.unknown.items():
        log.warning("Data Docs page %s still loads %s from the internet (not in offline_docs.ASSETS)", page, urls)


class _Runner:
    """One ephemeral GE context per process, reused (context creation costs ~0.5 s)."""

    def __init__(self) -> None:
        # GE reads this when imported: no usage statistics leave the machine.
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from restock.quality.ge_metrics import register

        register()  # the strftime check once per distinct value, not per row (same verdicts)
        from restock.quality.ge_kwargs import install

        install()  # an expectation's kwargs from one configuration per lookup (same results)
        # GE fingerprints every pandas batch below this many bytes (a hash of every row,
        # ~1 s per million rows) for a batch marker nothing here reads: never.
        from great_expectations.execution_engine import pandas_execution_engine

        pandas_execution_engine.HASH_THRESHOLD = 0
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
        self._sites: dict[Path, tuple[str, Any]] = {}  # folder -> (site name, its results store)

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

    def site_for(self, directory: Path) -> tuple[str, Any]:
        """The Data Docs site writing to ``directory`` and its validation-results store
        (``docs_site``: on disk, so the index lists the pages of earlier processes)."""
        directory = directory.resolve()
        if directory not in self._sites:
            name = "restock_" + hashlib.sha1(str(directory).encode()).hexdigest()[:10]
            # Plain dicts for GE's config TypedDicts (the site's omits show_how_to_buttons
            # and site_section_builders, which the SiteBuilder takes).
            store = self.context.add_store(f"{name}_results", docs_site.store_config(directory))  # type: ignore[arg-type]
            self.context.add_data_docs_site(name, docs_site.site_config(directory, f"{name}_results"))  # type: ignore[arg-type]
            self._sites[directory] = (name, store)
        return self._sites[directory]

    def run(
        self,
        suite: dict[str, Any],
        frame: pd.DataFrame,
        parameters: dict[str, Any],
        run_name: str,
        data_docs_dir: Path | None,
        complete: bool = False,
    ):
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )

        definition = self.definition(suite)
        run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
        result = definition.run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=parameters,
            # COMPLETE (every failing row, with its day) when several days share a run.
            result_format=COMPLETE_FORMAT
            if complete
            else {
                "result_format": "SUMMARY",
                "unexpected_index_column_names": INDEX_COLUMNS,
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
                site, docs_store = self.site_for(Path(data_docs_dir))
                started = time.time()
                docs_store.set(key, result)  # the page is rendered from it
                try:
                    docs_site.prune(Path(data_docs_dir))  # the index lists none of those
                    self.context.build_data_docs(site_names=[site], resource_identifiers=[key])
                finally:
                    docs_store.set(key, docs_site.index_record(result))  # what the index reads
                localize_docs(Path(data_docs_dir), started)
                urls = self.context.get_docs_sites_urls(resource_identifier=key, site_names=[site])
                url = urls[0]["site_url"] if urls else None
                page = Path(unquote(url.removeprefix("file://"))) if url else None
        finally:
            # The ephemeral store keeps every result in memory: drop it (a site keeps its
            # own records on disk, ``docs_site``).
            store = self.context.validation_results_store
            if store.has_key(key):
                store.remove_key(key)
        return result, page

    def passes(self, suite: dict[str, Any], frame: pd.DataFrame, parameters: dict[str, Any]) -> int | None:
        """The number of expectations when every one of them succeeds on ``frame``
        (none raised), else None: one ``BOOLEAN_ONLY`` run, which collects no failing
        rows or samples. No Data Docs, nothing stored."""
        definition = self.definition(suite)
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            definition.suite, result_format={"result_format": "BOOLEAN_ONLY"}, expectation_parameters=parameters
        )
        results = list(result.results)
        return len(results) if all(r.success and not raised_error(r.exception_info) for r in results) else None

    def screen(self, suite: dict[str, Any], frame: pd.DataFrame, parameters: dict[str, Any]) -> list:
        """Each expectation's result as a COMPLETE run (``run(complete=True)``) gives it,
        from two GE runs of one batch: the whole suite with ``BOOLEAN_ONLY`` (pass or
        fail, without collecting every expectation's failing rows: about half the cost of
        a COMPLETE run), then only the expectations that failed or raised, again, with the
        COMPLETE format. No Data Docs, nothing stored."""
        from great_expectations.core.expectation_suite import ExpectationSuite

        definition = self.definition(suite)
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        first = batch.validate(
            definition.suite, result_format={"result_format": "BOOLEAN_ONLY"}, expectation_parameters=parameters
        )
        results = list(first.results)
        again = [i for i, r in enumerate(results) if not r.success or raised_error(r.exception_info)]
        if not again:
            return results
        # The suite file's entries of those expectations (GE gave the suite's ones ids).
        position = {e.id: k for k, e in enumerate(definition.suite.expectations)}
        positions = [position.get(results[i].expectation_config.id) for i in again]
        wanted = [k for k in positions if k is not None]
        if len(wanted) != len(again) or len(position) != len(suite["expectations"]):  # pragma: no cover
            result, _ = self.run(suite, frame, parameters, f"{suite['name']}_complete", None, complete=True)
            return list(result.results)
        failing = ExpectationSuite(
            name=f"{suite['name']}__failed",
            expectations=[dict(suite["expectations"][k]) for k in wanted],
            meta=suite.get("meta") or {},
        )
        second = batch.validate(failing, result_format=COMPLETE_FORMAT, expectation_parameters=parameters)
        # GE lists the results of expectations that raised first: match them by expectation.
        detailed: dict[str, list] = {}
        for r in second.results:
            detailed.setdefault(_config_key(r.expectation_config), []).append(r)
        for i in again:
            found = detailed.get(_config_key(results[i].expectation_config))
            if not found:  # pragma: no cover - defensive
                raise RuntimeError(f"no detailed result for {results[i].expectation_config.type}")
            results[i] = found.pop(0)
        return results


# What several days in one run need: every failing row, with its day.
COMPLETE_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [*INDEX_COLUMNS, PARTITION_COLUMN],
    "partial_unexpected_count": SAMPLE_ROWS,
}


def _config_key(config) -> str:
    """An expectation as GE ran it (type, kwargs with the parameters' values)."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return json.dumps([config.type, kwargs], sort_keys=True, default=str)


_RUNNER: _Runner | None = None
_LOCK = threading.Lock()


def _runner() -> _Runner:
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = _Runner()
    return _RUNNER


def run_suite(
    suite: dict[str, Any],
    frame: pd.DataFrame,
    params: dict[str, Any],
    run_name: str,
    data_docs_dir: Path | None,
    complete: bool = False,
):
    """GE's validation result for ``frame`` and the Data Docs page written (or None).

    ``params``: the resolved parameters; GE gets those its kwargs name. One run at a
    time: the process shares one runner and its GE context.
    """
    with _LOCK:
        return _runner().run(
            suite, frame, _run_parameters(suite, params, frame), run_name, data_docs_dir, complete=complete
        )


def suite_passes(suite: dict[str, Any], frame: pd.DataFrame, params: dict[str, Any]) -> int | None:
    """``_Runner.passes``: the expectation count when all of ``suite`` succeeds on
    ``frame``, else None."""
    with _LOCK:
        return _runner().passes(suite, frame, _run_parameters(suite, params, frame))


def screen_suite(suite: dict[str, Any], frame: pd.DataFrame, params: dict[str, Any]) -> list:
    """``_Runner.screen``: the results of a COMPLETE run of ``suite`` on ``frame``
    (several days in one run), at about half its cost."""
    with _LOCK:
        return _runner().screen(suite, frame, _run_parameters(suite, params, frame))


def _run_parameters(suite: dict[str, Any], params: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """What GE gets: only the parameters its kwargs name (a per-day ``known_*`` mapping
    is used by ``prepare_frame``, not by GE), value sets cut to the frame's values."""
    wanted = ge_parameters(suite)
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
        if (
            exp["type"] == "expect_column_values_to_be_in_set"
            and isinstance(value_set, dict)
            and "$PARAMETER" in value_set
            and isinstance(column, str)
            and column in frame.columns
        ):
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


def read_failures(result, frame: pd.DataFrame) -> tuple[tuple[FailedExpectation, ...], tuple[FailedExpectation, ...]]:
    """The run's blocking failures (severity critical) and its warnings."""
    failures: list[FailedExpectation] = []
    warnings: list[FailedExpectation] = []
    rows = RowFinder(frame, INDEX_COLUMNS)
    for r in result.results:
        error = raised_error(r.exception_info)
        if r.success and not error:
            continue
        res = r.result or {}
        failed = failed_expectation(
            r,
            rows,
            res.get("partial_unexpected_index_list") or [],
            res.get("unexpected_count"),
            res.get("element_count"),
            error,
        )
        (failures if failed.severity == "critical" else warnings).append(failed)
    order = {e: i for i, e in enumerate(r.expectation_config.type for r in result.results)}
    failures.sort(key=lambda f: (f.columns, order.get(f.expectation_type, 0)))
    return tuple(failures), tuple(warnings)


class RowFinder:
    """Position in the frame of a failing row GE reports by its index columns."""

    def __init__(self, frame: pd.DataFrame, index_columns: list[str]) -> None:
        self.frame, self.index_columns = frame, index_columns
        self._positions: dict[tuple[Any, ...], int] | None = None

    @staticmethod
    def _key(values) -> tuple[Any, ...]:
        return tuple(_int(v) if i == 1 else day_key(v) if i == 2 else v for i, v in enumerate(values))

    def position(self, item: dict[str, Any]) -> int | None:
        if self._positions is None:
            keys = zip(*(self._keys(i, self.frame[c]) for i, c in enumerate(self.index_columns)), strict=True)
            self._positions = {key: i for i, key in enumerate(keys)}
        return self._positions.get(self._key([item.get(c) for c in self.index_columns]))

    @classmethod
    def _keys(cls, i: int, column: pd.Series) -> list[Any]:
        """``_key``'s part ``i`` for every row: whole columns at once where the dtype
        allows it (a run of several days has one row per delivered line)."""
        import pandas as pd

        if i not in (1, 2):
            return list(column)
        if not column.isna().any():
            if i == 1 and pd.api.types.is_integer_dtype(column.dtype):
                return column.tolist()  # int(v) of each
            if i == 2 and pd.api.types.is_datetime64_any_dtype(column.dtype):
                return column.dt.date.tolist()  # pd.Timestamp(v).date() of each
        return [cls._key([None] * i + [v])[i] for v in column]


def day_key(value: Any) -> Any:
    try:
        import pandas as pd

        return pd.Timestamp(value).date()
    except (TypeError, ValueError):
        return value


def severity_of(config) -> str:
    value = str(getattr(config, "severity", "critical") or "critical")
    return getattr(value, "value", value).split(".")[-1].lower()


def failed_expectation(
    r, rows: RowFinder, sample: list, unexpected_count: int | None, element_count: int | None, error: str | None
) -> FailedExpectation:
    """GE's result ``r`` as a ``FailedExpectation``; ``sample``: GE's index items of failing rows."""
    frame = rows.frame
    config = r.expectation_config
    kwargs = config.kwargs
    checked = [kwargs[k] for k in COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
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
        severity=severity_of(config),
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
            f" and {more} more" if more > 0 else ""
        )
    if "observed_value" not in res:
        return None
    value = res["observed_value"]
    if expectation_type == "expect_table_row_count_to_be_between":
        return f"{value} rows (expected {kwargs.get('min_value')}..{kwargs.get('max_value') or 'any'})"
    text = str(value)
    return f"observed {text[:200]}"


def raised_error(info: Any) -> str | None:
    """GE 1.x puts a raised error either at the top level or keyed by metric id."""
    if not info:
        return None
    if isinstance(info, dict) and info.get("raised_exception"):
        return str(info.get("exception_message"))
    messages = [
        str(v.get("exception_message"))
        for v in (info.values() if isinstance(info, dict) else [])
        if isinstance(v, dict) and v.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
