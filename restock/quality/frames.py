"""The frame GE validates: the delivered values plus the derived columns a suite names.

Raw values stay the delivered text; a *derived column* is added for every column a
suite names with one of these suffixes:

========== ============================================================
``c__num``   ``c`` parsed as a number (float64); NaN where it does not parse
``c__date``  ``c`` parsed as a ``YYYY-MM-DD`` date (datetime64[ns]); NaT if not
``c__code``  ``c`` trimmed and lower-cased (as dbt staging's ``clean_code``)
``c__z``     ``(c - mean) / std`` of the row's customer, from the baseline given to
             ``validate_frame`` as ``quantity_baseline`` (a frame indexed by
             ``customer_id`` with ``mean`` and ``std``; NaN without one)
``c__known`` True when ``c`` is one of the values given as parameter
             ``known_<c>s`` (``customer_id__known``: ``known_customer_ids``),
             False when not, null when ``c`` is null. The parameter is a
             collection, or a mapping day -> collection applied to each row by
             its ``_partition_date`` (several days validated in one run)
========== ============================================================

So "does it parse" is checked on the text (regex / strftime expectations on ``c``)
and ranges / dates on the typed twin (``c__num`` / ``c__date``, which GE's
between-expectations skip when null): each bad value is reported once, under the
delivered column name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from restock.contract import EXTRACTS, PARTITION_COLUMN
from restock.quality.suites import base_column, known_parameter, parameter_value, referenced_columns

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SOURCE_FILE, SOURCE_ROW = "_source_file", "_source_row"
INDEX_COLUMNS = [SOURCE_FILE, SOURCE_ROW]


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
        frame[PARTITION_COLUMN] = parameter_value(parameters["partition_date"])
    for col in referenced_columns(suite):
        base = base_column(col)
        if col == base or col in frame.columns or base not in frame.columns:
            continue
        if col.endswith("__num"):
            frame[col] = as_number(frame[base])
        elif col.endswith("__date"):
            frame[col] = as_date(frame[base])
        elif col.endswith("__code"):
            frame[col] = frame[base].astype("string").str.strip().str.lower().astype(object)
        elif col.endswith("__z"):
            frame[col] = _zscore(frame, base, baseline)
        elif col.endswith("__known"):
            frame[col] = _known(frame, base, (parameters or {}).get(known_parameter(base)))
    _widen_numbers(frame)
    # One block per dtype: GE filters and copies the frame for every metric, and a frame
    # built column by column would be re-consolidated each time (~40% of a large run).
    return frame.copy()


def _widen_numbers(frame: pd.DataFrame) -> None:
    """Narrow numpy integers and floats (int32 from a DuckDB INTEGER) as int64 / float64,
    in place: GE's pandas between-check is vectorised only for those two dtypes and
    calls Python once per value otherwise (~1 s per million rows). Same values."""
    import numpy as np

    for col in frame.columns:
        dtype = frame[col].dtype
        if not isinstance(dtype, np.dtype) or dtype.itemsize >= 8:
            continue
        if dtype.kind in "iu":
            frame[col] = frame[col].astype("int64")
        elif dtype.kind == "f":
            frame[col] = frame[col].astype("float64")


def as_number(s: pd.Series) -> pd.Series:
    import pandas as pd

    return pd.to_numeric(s, errors="coerce").astype("float64")


def as_date(s: pd.Series) -> pd.Series:
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
    return ((as_number(frame[base]) - mean) / std).astype("float64")


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
        # One set per day, applied to each row by its _partition_date. Days sharing one
        # collection (the same snapshot in force) are looked up together.
        as_text: dict[int, set[str]] = {}
        sets: dict[pd.Timestamp, int] = {}
        for day, ids in known.items():
            if id(ids) not in as_text:
                as_text[id(ids)] = {str(v) for v in ids}
            sets[pd.Timestamp(day).normalize()] = id(ids)
        days = as_date(frame[PARTITION_COLUMN]) if PARTITION_COLUMN in frame.columns else None
        result = np.zeros(len(frame), dtype=bool)
        if days is not None:
            by_set: dict[int | None, list[np.ndarray]] = {}
            for day, positions in pd.Series(np.arange(len(frame))).groupby(days.to_numpy()).groups.items():
                by_set.setdefault(sets.get(pd.Timestamp(day)), []).append(np.asarray(positions))
            for key, parts in by_set.items():
                idx = np.concatenate(parts)
                ids = as_text[key] if key is not None else set()
                result[idx] = text.iloc[idx].isin(ids).fillna(False).to_numpy(dtype=bool)
    else:
        result = text.isin({str(v) for v in known}).fillna(False).to_numpy(dtype=bool)
    out[filled] = result[filled]
    return pd.Series(out, index=frame.index, dtype=object)
