"""Reading the canonical incident CSV file: bytes to a frame, each row with its file line.

`read_canonical_records` reads with pyarrow (types as it infers them), skips and counts
wholly blank rows, and refuses a file that is not UTF-8 saying where; `record_start_lines`
finds the line each record starts on, which every CSV reader here shares.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from impactlens.service_map.load import existing_file, not_utf8

from impactlens.errors import InputFileError

__all__ = ["LINE_OFFSET", "read_canonical_csv", "read_canonical_records", "record_start_lines"]

LINE_OFFSET = 2  # data row 0 is line 2 of the file, after the header


def read_canonical_csv(path: str | Path) -> pd.DataFrame:
    """Read a canonical incident CSV as it is (types as the pyarrow reader infers them).

    The frame's index, named ``line``, is the file line each row starts on, counting
    blank lines and line breaks inside quoted fields, so rejects point at the right line.
    A ``.gz`` file is decompressed. Wholly blank rows (``,,,``) are skipped
    (`read_canonical_records` counts them).
    """
    return read_canonical_records(path)[0]


def read_canonical_records(path: str | Path) -> tuple[pd.DataFrame, int]:
    """`read_canonical_csv`'s frame, and how many wholly blank rows it skipped."""
    file = existing_file(path, what="incidents")
    data: bytes | None = None  # the file's bytes, only when they are needed
    try:
        if file.suffix == ".gz":
            data = gzip.decompress(file.read_bytes())
        try:
            # The path itself, not its bytes: pyarrow reads the file on its own threads,
            # with no 100 MB copy through a Python bytes object. Compression stays off:
            # only ".gz" is decompressed, whatever other suffix a file has.
            frame = pd.read_csv(
                io.BytesIO(data) if data is not None else file, engine="pyarrow", compression=None
            )
        except ValueError as error:
            if "straddl" not in str(error):
                raise
            # A field longer than pyarrow's block (about 1 MB): the C reader has no limit.
            frame = pd.read_csv(io.BytesIO(data) if data is not None else file, compression=None)
    except (ValueError, OSError, EOFError, zlib.error) as error:
        if isinstance(error, UnicodeDecodeError):  # a header line that is not UTF-8
            raise _not_utf8_error(file, data) from None
        # pyarrow's ArrowInvalid is a ValueError; a corrupt .gz raises one of the others.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputFileError(f"incidents {file}: not a readable CSV ({reason})") from None
    _refuse_bytes_columns(file, frame, data)
    records = len(frame)
    if data is None and _lines_in_file(file) == records + 1:
        # One line per record, the usual export: the bytes need not be read at all.
        lines = np.arange(records, dtype=np.int64) + LINE_OFFSET
    else:
        # Blank lines or quoted line breaks (or a .gz): follow the records in the bytes.
        lines = record_start_lines(file.read_bytes() if data is None else data, records)
    frame.index = pd.Index(lines, name="line")
    blank = _blank_rows(frame)
    if blank.any():
        frame = frame[~blank]
    return frame, int(blank.sum())


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """True for each row whose every field is missing or spaces; column by column, each
    only on the rows still blank (usually the first column leaves none)."""
    blank = np.ones(len(frame), dtype=bool)
    for position in range(len(frame.columns)):
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        values = frame.iloc[rows, position]
        empty = values.isna()
        if pd.api.types.is_object_dtype(values.dtype) or pd.api.types.is_string_dtype(values):
            empty |= values.astype("string").str.strip().eq("").fillna(False)
        blank[rows] = empty.to_numpy(dtype=bool)
    return blank


def _refuse_bytes_columns(file: Path, frame: pd.DataFrame, data: bytes | None) -> None:
    """Refuse a file that is not UTF-8, which pyarrow reads as columns of bytes.

    pyarrow validates UTF-8 as it reads, and types a column holding invalid bytes as
    binary; looking at one value per object column keeps the good path free of any
    decoding in Python. Only a file found bad is decoded, to say where.
    """
    for position, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_object_dtype(dtype):
            continue
        values = frame.iloc[:, position]
        first = values.first_valid_index()
        if first is not None and isinstance(values.loc[first], bytes):
            raise _not_utf8_error(file, data)


def _not_utf8_error(file: Path, data: bytes | None) -> InputFileError:
    data = file.read_bytes() if data is None else data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        return InputFileError(f"incidents {file}: {not_utf8(data, error.start)}")
    return InputFileError(f"incidents {file}: not UTF-8 text")


def _lines_in_file(file: Path) -> int:
    """Lines of a file as `record_start_lines` counts them, from a memory map.

    Counting newlines in 16 MiB slices of a map costs ~20 ms for 100 MB and keeps
    memory flat, where ``read_bytes().count`` costs a 100 MB copy and ~100 ms.
    """
    size = file.stat().st_size
    if size == 0:  # an empty file cannot be mapped; b"" is one line to `record_start_lines`
        return 1
    data = np.memmap(file, dtype=np.uint8, mode="r")
    try:
        step = 1 << 24
        newlines = sum(
            int(np.count_nonzero(data[start : start + step] == ord("\n")))
            for start in range(0, size, step)
        )
        return newlines + (0 if data[-1] == ord("\n") else 1)
    finally:
        del data  # let go of the map (and its file handle) now, not at garbage collection


def record_start_lines(data: bytes, records: int, *, delimiter: str = ",") -> np.ndarray:
    """The 1-based line on which each data record of CSV `data` (UTF-8) starts.

    >>> record_start_lines(b'id,text\\n1,"two\\nlines"\\n\\n2,27" screen\\n', 2).tolist()
    [2, 5]
    """
    lines_in_file = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if lines_in_file == records + 1:  # one line per record: the usual case, and cheap
        return np.arange(records, dtype=np.int64) + LINE_OFFSET
    # Quoted line breaks or blank lines: follow the records with a CSV reader, which, like
    # the pyarrow reader, honours quotes only at the start of a field.
    text = io.StringIO(data.decode("utf-8", errors="replace"), newline="")
    reader = csv.reader(text, delimiter=delimiter)
    next(reader, None)
    starts, consumed = [], reader.line_num
    for row in reader:
        if row:  # the pyarrow reader skips blank lines
            starts.append(consumed + 1)
        consumed = reader.line_num
    if len(starts) != records:  # a layout the two readers see differently: use row order
        return np.arange(records, dtype=np.int64) + LINE_OFFSET
    return np.asarray(starts, dtype=np.int64)
