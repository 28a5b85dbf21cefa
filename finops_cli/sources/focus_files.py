"""FOCUS files on disk: finding them, telling CSV from gzip and Parquet, and naming a bad cell.

Split from ``focus.py`` because this is the part that knows about bytes and file formats, not
about bills: which files a ``--focus`` path names, what a file really is (from its first bytes),
its header, the stream pyarrow reads, and the slow second pass that reads a refused CSV again as
text only to name the first row and column that the typed read could not convert.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

from finops_cli.errors import UsageError
from finops_cli.sources.focus_values import missing_text_mask, one_line, shorten

FILE_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet", ".pq")
BLOCK_SIZE = 4 << 20  # CSV bytes per batch: about 12k FOCUS rows
CSV_NULLS = ["", "NULL", "null", "Null"]  # what a typed (cost) column reads as missing
PARQUET_BATCH_ROWS = 65_536
_NUMBER = r"^\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$"


def discover(path: Path) -> list[Path]:
    """The FOCUS files at ``path``: the file itself, or every CSV/Parquet file under a folder."""
    if not path.exists():
        raise UsageError(f"--focus {str(path)!r}: no such file or folder")
    if path.is_file():
        return [path]
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
        and p.name.lower().endswith(FILE_SUFFIXES)
    )
    if not found:
        raise UsageError(
            f"--focus {str(path)!r}: no FOCUS files (*.csv, *.csv.gz, *.parquet) in this folder"
        )
    return found


PARQUET_MAGIC = b"PAR1"
PARQUET_SUFFIXES = (".parquet", ".pq")


def file_kind(path: Path) -> str:
    """``parquet``, ``gzip`` (gzipped CSV) or ``csv``, from the first bytes, not the name.

    A file named ``.parquet`` that does not start with Parquet's magic bytes is refused with what
    it is instead (empty, gzip, binary), unless it is plain text: a CSV under the wrong name.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror or err}") from None
    magic = head[:4]
    if magic == PARQUET_MAGIC:
        return "parquet"
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        if not head:
            raise UsageError(f"{path}: empty file (0 bytes), not a Parquet file")
        if not _looks_like_text(head):
            raise UsageError(
                f"{path}: corrupt or not a Parquet file: it does not start with the Parquet "
                f"magic bytes PAR1 (it starts with {magic!r})"
            )
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    return "csv"


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the 4 KiB boundary
            return False
        text = head[: err.start].decode("utf-8-sig", "ignore")
    return "," in text and "\x00" not in text


def parquet_footer_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a whole Parquet file, judged from its end; None if it may be."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            if size < 12:
                return f"truncated Parquet file ({size} bytes)"
            handle.seek(size - 4)
            tail = handle.read(4)
    except OSError as err:
        return f"cannot read: {err.strerror or err}"
    if tail != PARQUET_MAGIC:
        return (
            "truncated or corrupt Parquet file: it does not end with the Parquet magic bytes "
            "PAR1 (an incomplete download or copy?)"
        )
    return None


def csv_header(path: Path, kind: str) -> list[str]:
    import csv

    opener: Any = gzip.open if kind == "gzip" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as err:
        raise UsageError(f"{path}: row 1: cannot read the CSV header: {one_line(err)}") from None
    if not header:
        raise UsageError(f"{path}: row 1: empty file, no FOCUS header")
    return [h.strip() for h in header]


def resolve_columns(names: list[str]) -> dict[str, str]:
    """Canonical FOCUS name, lowercased -> the name used in the file (case-insensitive match)."""
    out: dict[str, str] = {}
    for name in names:
        out.setdefault(name.lower(), name)
    return out


def numeric_cost(array: Any, fail: Callable[[int, str], UsageError]) -> Any:
    """A Parquet cost column that is not float (decimal, integer, or text) as float64."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        array = pc.if_else(missing_text_mask(array), pa.scalar(None, array.type), array)
        ok = pc.match_substring_regex(array, _NUMBER).fill_null(True)
        bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
        if len(bad):
            value = array[int(bad[0])].as_py()
            raise fail(int(bad[0]), f"not a number ({shorten(value)!r})")
    try:
        return pc.cast(array, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise fail(0, f"not a number column ({one_line(err)})") from None


def csv_stream(path: Path, kind: str) -> Any:
    import pyarrow as pa

    raw = pa.OSFile(str(path), "rb")
    return pa.CompressedInputStream(raw, "gzip") if kind == "gzip" else raw


def locate_csv(
    path: Path, kind: str, header: list[str], cost: str, err: BaseException
) -> UsageError:
    """Read the file again as plain text, only to name the first row the typed read refused."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    message = one_line(err)
    bad_rows: list[tuple[int | None, str]] = []

    def invalid(row: Any) -> str:
        bad_rows.append((row.number, str(row.text)))
        return "error"

    try:
        reader = pcsv.open_csv(
            csv_stream(path, kind),
            read_options=pcsv.ReadOptions(
                use_threads=False, block_size=BLOCK_SIZE, column_names=header, skip_rows=1
            ),
            parse_options=pcsv.ParseOptions(invalid_row_handler=invalid),
            convert_options=pcsv.ConvertOptions(
                include_columns=[cost], column_types={cost: pa.string()}
            ),
        )
        offset = 0
        for batch in reader:
            values = batch.column(0)
            ok = pc.or_(pc.match_substring_regex(values, _NUMBER), missing_text_mask(values))
            bad = np.flatnonzero(~ok.to_numpy(zero_copy_only=False).astype(bool))
            if len(bad):
                i = int(bad[0])
                value = values[i].as_py()
                shown = shorten(value)
                return UsageError(
                    f"{path}: row {offset + i + 2}, column {cost}: not a number ({shown!r})"
                )
            offset += batch.num_rows
    except (pa.ArrowInvalid, OSError, EOFError) as again:
        if bad_rows:
            number, text = bad_rows[0]
            where = f"row {number}" if number is not None else "a row"
            return UsageError(
                f"{path}: {where}: not valid CSV, {len(header)} columns expected: {shorten(text)!r}"
            )
        message = one_line(again)
    if kind == "gzip" and ("gzip" in message.lower() or "compress" in message.lower()):
        return UsageError(f"{path}: not a readable gzip file: {message}")
    return UsageError(f"{path}: not a readable FOCUS CSV file: {message}")
