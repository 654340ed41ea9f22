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
    found = [p for p in expected_paths(landing_dir, extract, day) if p.exists() or p.is_symlink()]
    if len(found) > 1:
        raise LandingError(
            f"{extract} for {day}: more than one file delivered ({', '.join(str(p) for p in found)}); keep exactly one"
        )
    if found and (found[0].is_symlink() or not found[0].is_file()):
        # A link could point anywhere on the machine; its target is never read or copied.
        kind = "a symbolic link" if found[0].is_symlink() else "not a regular file"
        raise LandingError(f"{found[0]}: {kind}; deliver the file itself into the landing folder")
    return found[0] if found else None


def read_extract_file(path: Path, extract: Extract, mapping: dict[str, str], encodings: list[str]) -> ExtractFile:
    data = path.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    if not data:
        raise LandingError(f"{path}: empty file (0 bytes); expected at least a header row")
    if path.name.endswith(".parquet"):
        wanted = {mapping.get(col, col) for col in extract.columns}
        table, encoding = _read_parquet(path, data, wanted), None
    else:
        if path.name.endswith(".gz"):
            data = _gunzip(path, data)
        table, encoding = _read_csv(path, data, encodings)
    table = _to_contract(path, table, extract, mapping)
    return ExtractFile(path=path, table=table, checksum_sha256=checksum, encoding=encoding)


# A safety limit, not a business rule: a few kilobytes of gzip can expand to
# gigabytes, and the reader holds the whole text in memory.
MAX_UNCOMPRESSED_BYTES = 4 << 30


def _gunzip(path: Path, data: bytes, limit: int | None = None) -> bytes:
    limit = MAX_UNCOMPRESSED_BYTES if limit is None else limit
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip header and trailer
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit:
            raise LandingError(
                f"{path}: decompresses to more than {limit:,} bytes; split the extract or deliver it uncompressed"
            )
        if not inflater.eof:
            raise LandingError(f"{path}: not a complete gzip file (end of stream missing); was it truncated?")
        if inflater.unused_data:  # concatenated gzip members: rare, read them the standard way
            out = gzip.decompress(data)
            if len(out) > limit:
                raise LandingError(f"{path}: decompresses to more than {limit:,} bytes")
        return out
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


def _read_parquet(path: Path, data: bytes, wanted: set[str]) -> pa.Table:
    """The file's columns as strings. ``wanted``: the headers the contract reads; other
    columns are ignored, whatever their type."""
    from pyarrow import parquet as pq

    try:
        # ParquetFile, not read_table: the dataset reader fails on repeated names with
        # a message about fragments; we name the repeated columns instead.
        table = pq.ParquetFile(io.BytesIO(data)).read()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise LandingError(f"{path}: not a readable Parquet file ({exc})") from exc
    names = table.column_names
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise LandingError(f"{path}: Parquet file repeats column(s) {dupes}")
    nested = [n for n in names if pa.types.is_nested(table.schema.field(n).type)]
    if bad := [n for n in nested if n in wanted]:
        kinds = ", ".join(f"{n} ({table.schema.field(n).type})" for n in bad)
        raise LandingError(f"{path}: column(s) {kinds} hold lists or records; the contract's columns are plain values")
    flat = [n for n in names if n not in nested]  # nested extras are ignored like any extra column
    table = table.select(flat)
    try:
        return table.cast(pa.schema([(name, pa.string()) for name in flat]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise LandingError(f"{path}: Parquet column types cannot be read as text ({exc})") from exc


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
