"""Read an ITSM export file into a frame of text, one row per record, for an adapter to parse.

`read_rows` (and `read_records`, which also reads other delimiters and encodings and
counts the wholly blank rows it skips) opens and decodes only: every field stays text
(pandas ``"string"``; an empty field is NA) and the index, named ``line``, is the file line
each record starts on, so that an adapter's rejected rows point at the right place. Reading is apart from parsing
(CONVENTIONS.md, "Parse apart from read"): the ``parse_*`` adapters never open files.

Formats, chosen by the file name: ``.csv``, ``.csv.gz``, ``.json``, ``.json.gz``.
JSON is a list of records, or ServiceNow's Table API ``{"result": [...]}`` or its JSON
export ``{"records": [...]}``. A field given as ``{"display_value": ..., "value": ...}``
(``sysparm_display_value=all``) becomes its display value; a reference given as
``{"link": ..., "value": ...}`` becomes its value. ServiceNow documents that a date-time's
display value is in the exporting user's time zone and format while its value is UTC in
``YYYY-MM-DD HH:MM:SS``, so for a date-time the value is kept, written ISO 8601 with ``Z``.

A file that cannot be read at all is an `InputFileError` saying what, where and why.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from impactlens.ingest.canonical_file import record_start_lines
from impactlens.service_map.load import existing_file

from impactlens.errors import InputFileError, excerpt

__all__ = [
    "DELIMITERS",
    "ENCODINGS",
    "SUFFIXES",
    "Records",
    "read_records",
    "read_rows",
    "records_frame",
]

SUFFIXES = (".csv", ".csv.gz", ".json", ".json.gz")
RECORD_KEYS = ("result", "records")  # ServiceNow Table API, ServiceNow JSON export
# The field separators and text encodings a CSV may have, and how messages name them.
DELIMITERS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252")
BOM = b"\xef\xbb\xbf"  # U+FEFF in UTF-8: a byte order mark at the start, junk elsewhere
# A ServiceNow date-time as the database holds it (UTC, system format).
GLIDE_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
JSON_SPACE = re.compile(r"[ \t\n\r]*")
TEXT = pd.StringDtype("pyarrow")
BLOCK_SIZE = 1 << 24  # bytes pyarrow reads at a time; a longer record is read in one block


@dataclass(frozen=True, eq=False)
class Records:
    """An export's records as text (see `read_rows`), and the wholly blank CSV rows
    (``;;;;``, as spreadsheets write at the end) that were skipped."""

    rows: pd.DataFrame
    blank_rows: int = 0


def read_rows(path: str | Path) -> pd.DataFrame:
    """Every record of a CSV or JSON export as text, indexed by the line it starts on.

    A comma-separated UTF-8 file; wholly blank rows are skipped (`read_records` counts
    them and reads other delimiters and encodings).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = Path(folder, "incidents.csv")
    ...     _ = file.write_text('number,priority\\nINC1,"1 - Critical"\\nINC2,\\n')
    ...     rows = read_rows(file)
    >>> rows["priority"].tolist(), rows.index.tolist()
    (['1 - Critical', <NA>], [2, 3])
    """
    return read_records(path).rows


def read_records(
    path: str | Path,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
    settings: str | None = None,
) -> Records:
    """Every record of a CSV or JSON export as text, and the blank CSV rows skipped.

    Parameters
    ----------
    path
        A ``.csv``, ``.csv.gz``, ``.json`` or ``.json.gz`` file.
    delimiter
        The CSV field separator, one of `DELIMITERS`.
    encoding
        The CSV text encoding, one of `ENCODINGS` (JSON is always UTF-8). A UTF-8 byte
        order mark at the start is dropped whatever the encoding, and a stray one
        elsewhere (U+FEFF at the start of a value, where files were pasted together) is
        dropped from the values.
    settings
        Where the reader's delimiter and encoding are set (``the mapping m.yaml``), so that
        a message about a wrong one says what to change there; None: it says to export the
        file again (comma-separated, UTF-8).

    A row whose every field is empty is skipped and counted, never parsed. A file with
    the wrong delimiter or encoding is refused with one line saying which it looks like.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = Path(folder, "incidents.csv")
    ...     _ = file.write_bytes("Incident ID;Status\\nIM1;Clos\\xe9\\n;\\n".encode("latin-1"))
    ...     read = read_records(file, delimiter=";", encoding="latin-1")
    >>> read.rows["Status"].tolist(), read.blank_rows
    (['Closé'], 1)
    """
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter {delimiter!r} is not one of {sorted(DELIMITERS)}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r} is not one of {list(ENCODINGS)}")
    file = existing_file(path, what="export")
    name = file.name.lower()
    suffix = next((s for s in sorted(SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)
    if suffix is None:
        raise InputFileError(
            f"{file}: cannot tell the format from the name; expected one of {', '.join(SUFFIXES)}"
        )
    data = _file_bytes(file, compressed=suffix.endswith(".gz"))
    _check_not_binary(file, data)
    is_json = suffix.startswith(".json")
    data = _as_utf8(file, data, encoding="utf-8" if is_json else encoding, settings=settings)
    if not data.strip():
        raise InputFileError(f"{file}: the file is empty")
    if is_json:
        return Records(_json_rows(file, data))
    return _csv_rows(file, data, delimiter=delimiter, settings=settings)


def _file_bytes(file: Path, *, compressed: bool) -> bytes:
    data = file.read_bytes()
    if not compressed:
        if data[:2] == b"\x1f\x8b":
            raise InputFileError(f"{file}: the file is gzip-compressed; name it {file.name}.gz")
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise InputFileError(
            f"{file}: the gzip stream ends early (the file is truncated)"
        ) from None
    except (OSError, zlib.error) as error:  # BadGzipFile is an OSError
        raise InputFileError(f"{file}: not a readable gzip file ({error})") from None


def _check_not_binary(file: Path, data: bytes) -> None:
    """Refuse bytes that are no text in any encoding read here, saying what they look like."""
    if data[:4] == b"PK\x03\x04":
        raise InputFileError(
            f"{file}: the file is a ZIP archive (an Excel workbook?), not CSV or JSON text"
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputFileError(f"{file}: the file is UTF-16 text; save or export it as UTF-8")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputFileError(
            f"{file}: binary data, not text (a NUL byte on line {_line_at(data, nul)})"
        )


def _as_utf8(file: Path, data: bytes, *, encoding: str, settings: str | None) -> bytes:
    """The file's text as UTF-8 bytes, byte order marks dropped; refused when the bytes
    are not text in `encoding`, or are plainly UTF-8 where `encoding` says otherwise."""
    if data.startswith(BOM):  # whatever the encoding says: Excel writes one
        data = data[len(BOM) :]
    # Rare: its first byte is looked for with memchr (~10 ms for 100 MB; a search for the
    # three bytes costs ~15x that), the bytes replaced only when present.
    if data.find(BOM[:1]) >= 0 and BOM in data:
        data = data.replace(BOM, b"")
    if encoding in ("utf-8", "utf-8-sig"):
        _check_utf8(file, data, settings=settings)
        return data
    if data.isascii():
        return data  # the same bytes in every encoding read here
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Accented text in Latin-1 or Windows-1252 is practically never valid UTF-8.
        at = next(i for i, byte in enumerate(data) if byte >= 0x80)
        raise InputFileError(
            f"{file}: {settings or 'the reader'} says encoding {encoding}, but the file is "
            f"UTF-8 text (line {_line_at(data, at)} has UTF-8 characters); set encoding: utf-8"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:  # cp1252 leaves five bytes undefined
        line = _line_at(data, error.start)
        raise InputFileError(
            f"{file}: not {encoding} text on line {line} (byte {data[error.start]:#04x} has no "
            f"character in {encoding}); try encoding: latin-1"
        ) from None
    return text.encode("utf-8")


def _check_utf8(file: Path, data: bytes, *, settings: str | None) -> None:
    """Refuse bytes that are not UTF-8 text, saying where and what they may be."""
    if data.isascii():  # ~6x faster than decoding, and the usual export
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = _line_at(data, error.start)
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        bad = data[error.start : error.start + 4].hex(" ")
        what = (
            f"set encoding: latin-1 or cp1252 in {settings}"
            if settings
            else "export the file as UTF-8"
        )
        raise InputFileError(
            f"{file}: not valid UTF-8 on line {line}, byte {column} of the line "
            f"(bytes {bad}); it may be Windows-1252 or Latin-1: {what}"
        ) from None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# --- CSV ------------------------------------------------------------------------------


def _csv_rows(file: Path, data: bytes, *, delimiter: str, settings: str | None) -> Records:
    end = data.find(b"\n")
    header_line = data[: end if end >= 0 else len(data)]
    _check_delimiter(file, header_line, delimiter, settings=settings)
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    names = next(csv.reader(text, delimiter=delimiter))
    table = _arrow_csv(file, data, _unique_names(names), delimiter)
    if not data.endswith((b"\n", b"\r")):
        _check_last_record(file, data, delimiter)
    lines = record_start_lines(data, table.num_rows, delimiter=delimiter)
    blank = _blank_rows(table)
    blank_rows = int(blank.sum())
    if blank_rows:
        table, lines = table.filter(pa.array(~blank)), lines[~blank]
    frame = table.to_pandas(types_mapper=lambda _: TEXT)
    frame.index = pd.Index(lines, name="line")
    return Records(frame, blank_rows)


def _check_delimiter(file: Path, header: bytes, delimiter: str, *, settings: str | None) -> None:
    """Refuse a header without `delimiter` that has another one: the wrong separator."""
    if delimiter.encode() in header:
        return
    others = {other: header.count(other.encode()) for other in DELIMITERS if other != delimiter}
    found = max(others, key=lambda other: others[other])
    if not others[found]:
        return  # one column, or none of the usual separators: the columns check says more
    what = (
        f"set delimiter: {json.dumps(found)} in {settings}"
        if settings
        else f"export it {'comma' if delimiter == ',' else DELIMITERS[delimiter]}-separated"
    )
    raise InputFileError(
        f"{file}: looks like a {DELIMITERS[found]}-separated file (its header has no "
        f"{DELIMITERS[delimiter]}); {what}"
    )


def _blank_rows(table: pa.Table) -> np.ndarray:
    """True for each row whose every field is missing or spaces.

    Column by column, each only on the rows still blank: usually the first column
    leaves none, so a big file pays for one column.
    """
    blank = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        rows = np.flatnonzero(blank)
        if not len(rows):
            break
        values = column.take(pa.array(rows)) if len(rows) < table.num_rows else column
        empty = pc.or_kleene(pc.is_null(values), pc.utf8_is_space(values))
        blank[rows] = empty.to_numpy(zero_copy_only=False)
    return blank


def _unique_names(names: list[str]) -> list[str]:
    """Header names with repeats numbered as pandas does: ``Labels``, ``Labels.1``, ...

    Jira's CSV export repeats a header once per value of a multi-valued field.

    >>> _unique_names(["Key", "Labels", "Labels", "Labels.1", "Labels"])
    ['Key', 'Labels', 'Labels.2', 'Labels.1', 'Labels.3']
    """
    taken, unique = set(names), []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            number = 1
            while f"{name}.{number}" in taken:
                number += 1
            taken.add(f"{name}.{number}")
            name = f"{name}.{number}"
        seen.add(name)
        unique.append(name)
    return unique


def _arrow_csv(file: Path, data: bytes, names: list[str], delimiter: str) -> pa.Table:
    """The CSV as an Arrow table of strings, its header read as `names`; NA only if empty."""
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.large_string() for name in names},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    # pyarrow cannot skip a header that has no line break after it
    complete = data if data.endswith((b"\n", b"\r")) else data + b"\n"
    block_size = BLOCK_SIZE
    while True:
        try:
            return pa_csv.read_csv(
                io.BytesIO(complete),
                read_options=pa_csv.ReadOptions(
                    block_size=block_size, column_names=names, skip_rows=1
                ),
                parse_options=parse,
                convert_options=convert,
            )
        except pa.ArrowInvalid as error:
            if "straddl" in str(error) and block_size <= len(complete):
                # A record longer than a block (a huge quoted field): read in one block.
                block_size = len(complete) + 1
                continue
            problem = _csv_problem(data, len(names), error, delimiter)
            raise InputFileError(f"{file}: {problem}") from None


def _check_last_record(file: Path, data: bytes, delimiter: str) -> None:
    """Refuse a file that ends inside a quoted field, which pyarrow reads without a word.

    Only a file without a final line break can have been cut there, so only such a file
    pays for a second, strict reading.
    """
    reader = csv.reader(
        io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter, strict=True
    )
    start = 1
    try:
        for _ in reader:
            start = reader.line_num + 1
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise InputFileError(
                f"{file}: the record on line {start} ends inside a quoted field "
                "(the file ends mid-record: it looks truncated)"
            ) from None
        # other strict complaints ('"' inside a field) are quirks both readers accept


def _csv_problem(data: bytes, fields: int, error: Exception, delimiter: str) -> str:
    """Say which line breaks the CSV, found again with Python's reader (errors only)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter)
    next(reader, None)
    start = reader.line_num + 1
    for row in reader:
        if row and len(row) != fields:
            truncated = not data.endswith(b"\n") and reader.line_num == _line_at(data, len(data))
            hint = " (the file ends mid-record: it looks truncated)" if truncated else ""
            return f"line {start} has {len(row)} fields where the header has {fields}{hint}"
        start = reader.line_num + 1
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # pyarrow's message can quote the offending row in full
    return f"not a readable CSV ({excerpt(first, 200, quote=False)})"


# --- JSON -----------------------------------------------------------------------------


def _json_rows(file: Path, data: bytes) -> pd.DataFrame:
    text = data.decode("utf-8")
    try:
        records, lines = _json_records(text)
    except json.JSONDecodeError as error:
        # an unterminated string ran to the end of the text: the file was cut short
        cut = error.msg.startswith("Unterminated string") or error.pos >= len(text.rstrip())
        tail = " (the file ends early: it looks truncated)" if cut else ""
        raise InputFileError(
            f"{file}: not valid JSON on line {error.lineno}, column {error.colno} "
            f"({error.msg}){tail}"
        ) from None
    except ValueError as error:
        raise InputFileError(f"{file}: {error}") from None
    except RecursionError:  # the decoder recurses once per level: "[[[[..." a million deep
        raise InputFileError(f"{file}: JSON nested too deeply to read") from None
    for number, (record, line) in enumerate(zip(records, lines, strict=True), start=1):
        if not isinstance(record, dict):
            raise InputFileError(
                f"{file}: record {number} (line {line}) is a {type(record).__name__}, "
                "not an object of fields"
            )
    return records_frame(records, lines=lines)


def records_frame(
    records: Sequence[Mapping[str, Any]], *, lines: Sequence[int] | None = None
) -> pd.DataFrame:
    """JSON records (objects of fields) as text, as `read_rows` gives a JSON file's.

    The fields are read as in a file (see the module's docstring: display values,
    references, date-times as UTC); the index, named ``line``, is `lines`, or each
    record's position from 1. For records that come from an API rather than a file.

    >>> rows = records_frame([{"number": "INC1", "priority": {"display_value": "2 - High",
    ...     "value": "2"}, "sys_updated_on": {"display_value": "02/11/2026 11:45:02",
    ...     "value": "2026-11-02 10:45:02"}}])
    >>> rows.iloc[0].tolist(), rows.index.tolist()
    (['INC1', '2 - High', '2026-11-02T10:45:02Z'], [1])
    """
    rows = [{key: _field_text(value) for key, value in record.items()} for record in records]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    frame = pd.DataFrame.from_records(rows, columns=columns).astype(TEXT)
    positions = range(1, len(rows) + 1) if lines is None else lines
    frame.index = pd.Index(np.asarray(positions, dtype=np.int64), name="line")
    return frame


def _json_records(text: str) -> tuple[list[Any], list[int]]:
    """The records of a JSON document and the line each starts on.

    The document is walked with the standard decoder one value at a time, so that each
    record's position is known without a second parse.
    """
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text.startswith("[", position):
        records, starts, end = _json_array(decoder, text, position)
    elif text.startswith("{", position):
        records, starts, end = _json_object_records(decoder, text, position)
    else:
        decoder.raw_decode(text, position)  # raises the decoder's own error
        raise ValueError("the JSON is a single value, not a list of records")
    end = _skip_space(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    lines, line, previous = [], 1, 0
    for start in starts:
        line += text.count("\n", previous, start)
        lines.append(line)
        previous = start
    return records, lines


def _json_array(
    decoder: json.JSONDecoder, text: str, position: int
) -> tuple[list[Any], list[int], int]:
    """Values of the array at `position`, their start offsets, and the offset after it."""
    values: list[Any] = []
    starts: list[int] = []
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        return values, starts, position + 1
    while True:
        starts.append(position)
        value, position = decoder.raw_decode(text, position)
        values.append(value)
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("]", position):
            return values, starts, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _json_object_records(
    decoder: json.JSONDecoder, text: str, position: int
) -> tuple[list[Any], list[int], int]:
    """The records under ``result`` or ``records`` of the object at `position`."""
    found: tuple[list[Any], list[int]] | None = None
    other: dict[str, Any] = {}
    position = _skip_space(text, position + 1)
    while not text.startswith("}", position):
        if not text.startswith('"', position):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, position
            )
        key, position = decoder.raw_decode(text, position)
        position = _skip_space(text, position)
        if not text.startswith(":", position):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, position)
        position = _skip_space(text, position + 1)
        if key in RECORD_KEYS and found is None and text.startswith("[", position):
            records, starts, position = _json_array(decoder, text, position)
            found = (records, starts)
        else:
            other[key], position = decoder.raw_decode(text, position)
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif not text.startswith("}", position):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)
    if found is None:
        error = other.get("error")
        if isinstance(error, dict):  # the Table API's error body: {"error": {...}, "status": ...}
            detail = "; ".join(str(error[k]) for k in ("message", "detail") if error.get(k))
            detail = excerpt(detail, 200, quote=False)
            raise ValueError(f"the file is a ServiceNow error response, not records ({detail})")
        keys = excerpt(", ".join(map(repr, other)), quote=False) or "none"
        raise ValueError(
            "expected a list of records, or an object with a 'result' or 'records' list "
            f"(its keys: {keys})"
        )
    return found[0], found[1], position + 1


def _skip_space(text: str, position: int) -> int:
    match = JSON_SPACE.match(text, position)
    return match.end() if match else position


def _field_text(value: Any) -> str | None:
    """One JSON field as the text a CSV export would hold; None for missing or empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        if "display_value" in value:
            raw = value.get("value")
            if isinstance(raw, str) and GLIDE_DATE_TIME.fullmatch(raw):
                return f"{raw[:10]}T{raw[11:]}Z"  # the database value: UTC
            return _field_text(value["display_value"])
        if "value" in value:  # a reference without its display value
            return _field_text(value["value"])
    return json.dumps(value, ensure_ascii=False)
