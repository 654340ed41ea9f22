"""Find and read one landing file into the contract's columns, as strings.

Reading is lossless: every value stays the text that was delivered (staging in dbt
casts), so a raw table can always be traced back to the file, row and column.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from restock.contract import FILE_SUFFIXES, Extract


class LandingError(ValueError):
    """A landing file is missing or cannot be read; the message names the file."""


@dataclass(frozen=True)
class ExtractFile:
    path: Path
    table: pa.Table  # contract columns (all strings) + _source_row
    checksum_sha256: str
    encoding: str | None  # None for Parquet


def expected_paths(landing_dir: Path, extract: str, day: date) -> list[Path]:
    return [landing_dir / extract / f"{day.isoformat()}{suffix}" for suffix in FILE_SUFFIXES]


def find_file(landing_dir: Path, extract: str, day: date) -> Path | None:
    found = [p for p in expected_paths(landing_dir, extract, day) if p.exists()]
    if len(found) > 1:
        raise LandingError(
            f"{extract} for {day}: more than one file delivered ({', '.join(str(p) for p in found)}); keep exactly one"
        )
    return found[0] if found else None


def read_extract_file(path: Path, extract: Extract, mapping: dict[str, str], encodings: list[str]) -> ExtractFile:
    data = path.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    if not data:
        raise LandingError(f"{path}: empty file (0 bytes); expected at least a header row")
    if path.name.endswith(".parquet"):
        table, encoding = _read_parquet(path, data), None
    else:
        if path.name.endswith(".gz"):
            data = _gunzip(path, data)
        table, encoding = _read_csv(path, data, encodings)
    table = _to_contract(path, table, extract, mapping)
    return ExtractFile(path=path, table=table, checksum_sha256=checksum, encoding=encoding)


def _gunzip(path: Path, data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise LandingError(f"{path}: not a complete gzip file ({exc}); was it truncated?") from exc


def _decode(path: Path, data: bytes, encodings: list[str]) -> tuple[str, str]:
    errors = []
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            errors.append(f"{encoding}: invalid byte at line {line}")
    raise LandingError(f"{path}: cannot decode with any configured encoding ({'; '.join(errors)})")


def _read_csv(path: Path, data: bytes, encodings: list[str]) -> tuple[pa.Table, str]:
    from pyarrow import csv as pacsv

    text, encoding = _decode(path, data, encodings)
    first_line = text.split("\n", 1)[0].strip("\r")
    header = [h.strip() for h in next(csv.reader([first_line]))] if first_line.strip() else []
    if not header:
        raise LandingError(f"{path}: the first line is empty; expected a header row")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise LandingError(f"{path}: header row repeats column(s) {dupes}")
    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        raise LandingError(f"{path}: CSV cannot be parsed: {exc}") from exc
    return table, encoding


def _read_parquet(path: Path, data: bytes) -> pa.Table:
    from pyarrow import parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise LandingError(f"{path}: not a readable Parquet file ({exc})") from exc
    return table.cast(pa.schema([(name, pa.string()) for name in table.column_names]))


def _to_contract(path: Path, table: pa.Table, extract: Extract, mapping: dict[str, str]) -> pa.Table:
    """Select the contract columns (renaming mapped headers); extras are ignored."""
    headers = set(table.column_names)
    source_of = {col: mapping.get(col, col) for col in extract.columns}
    missing = [col for col in extract.required if source_of[col] not in headers]
    if missing:
        described = ", ".join(
            col if source_of[col] == col else f"{col} (mapped to header '{source_of[col]}')" for col in missing
        )
        raise LandingError(
            f"{path}: missing required column(s) {described}; the file has {table.column_names}. "
            f"Map your headers under extracts.{extract.name}.columns in the config file."
        )
    n = table.num_rows
    arrays, names = [], []
    for col in extract.columns:
        src = source_of[col]
        if src in headers:
            column = table.column(src)
            # Trim surrounding blanks so ' 123 ' and '123' are the same key.
            column = pc.utf8_trim_whitespace(column)
            column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
        else:
            column = pa.nulls(n, pa.string())
        arrays.append(column)
        names.append(col)
    arrays.append(pa.array(range(1, n + 1), pa.int32()))
    names.append("_source_row")
    return pa.Table.from_arrays(arrays, names=names)
