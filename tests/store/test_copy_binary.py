"""`store.copy_binary` against PostgreSQL itself: the bytes it encodes are the bytes the
server writes for the same rows with ``COPY ... TO STDOUT (FORMAT BINARY)``."""

from __future__ import annotations

import psycopg
import pyarrow as pa
import pytest
from impactlens.store.copy_binary import SIGNATURE, TRAILER, encode_rows

from tests.store.conftest import postgres_base_url

TYPES = ["text", "character varying", "smallint", "integer", "bigint", "timestamp with time zone"]
ROWS = {
    "t": [
        "plain",
        None,
        "",
        "ünïcode, 'quotes', \"double\", comma, new\nline",
        "\\back",
        "é" * 300,
    ],
    "v": ["a", "b", None, "d", "e", "f"],
    "s": [1, -32768, 32767, None, 0, 5],
    "i": [None, -(2**31), 2**31 - 1, 7, 0, 42],
    "b": [2**62, None, -(2**63), 0, 1, -1],
    # Unix microseconds: 1970, before and after PostgreSQL's 2000 epoch, the epoch itself.
    "m": [0, 631_152_000_123_456, None, 946_684_800_000_000, 1_795_996_800_000_001, -1],
}


def _table() -> pa.Table:
    return pa.table(
        {
            "t": pa.array(ROWS["t"], type=pa.large_string()),
            "v": pa.array(ROWS["v"], type=pa.large_string()),
            **{name: pa.array(ROWS[name], type=pa.int64()) for name in ("s", "i", "b", "m")},
        }
    )


@pytest.fixture
def connection():
    base, reason = postgres_base_url()
    if base is None:
        pytest.skip(reason)
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql")) as connection:
        connection.execute("SET TIME ZONE 'UTC'")
        connection.execute(
            "CREATE TEMP TABLE t (t text, v varchar, s smallint, i integer, b bigint, "
            "m timestamptz)"
        )
        yield connection


def test_the_encoding_is_what_postgresql_writes_for_the_same_rows(connection):
    with connection.cursor() as cursor:
        for row in zip(*ROWS.values(), strict=True):
            moment = row[5]
            cursor.execute(
                "INSERT INTO t VALUES (%s, %s, %s, %s, %s, "
                "CASE WHEN %s::bigint IS NULL THEN NULL "
                "ELSE to_timestamp(0) + %s::bigint * interval '1 microsecond' END)",
                (*row[:5], moment, moment),
            )
        written = bytearray()
        with cursor.copy("COPY t TO STDOUT (FORMAT BINARY)") as copy:
            for block in copy:
                written += block

    encoded = SIGNATURE + encode_rows(_table(), TYPES).to_pybytes() + TRAILER
    assert encoded == bytes(written)


def test_encoded_rows_copy_in_and_read_back_as_they_were(connection):
    table = _table()
    with connection.cursor() as cursor:
        with cursor.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(SIGNATURE)
            copy.write(encode_rows(table.slice(0, 4), TYPES))  # in two chunks, as the
            copy.write(encode_rows(table.slice(4), TYPES))  # store sends them
            copy.write(TRAILER)
        cursor.execute(
            "SELECT t, v, s, i, b, (extract(epoch FROM m) * 1000000)::bigint FROM t ORDER BY ctid"
        )
        back = cursor.fetchall()

    assert back == list(zip(*ROWS.values(), strict=True))


def test_a_number_its_column_cannot_hold_is_refused_by_name():
    numbers = pa.table({"reassignment_count": pa.array([1, 2**31], type=pa.int64())})

    with pytest.raises(ValueError, match="reassignment_count: 2147483648 is out of range"):
        encode_rows(numbers, ["integer"])
    with pytest.raises(ValueError, match="x: binary COPY cannot encode PostgreSQL type numeric"):
        encode_rows(pa.table({"x": pa.array([1], type=pa.int64())}), ["numeric"])
