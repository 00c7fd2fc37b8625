"""Reading exports as they come: delimiters, encodings, byte order marks, blank rows.

Every file here is written byte by byte, so what the reader is given is exactly what a
spreadsheet or an ITSM tool writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from impactlens.ingest.canonical import read_canonical_records
from impactlens.ingest.formats import read_batch
from impactlens.ingest.read import read_records, read_rows

from impactlens.errors import InputFileError

BOM = b"\xef\xbb\xbf"


def write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("delimiter", "separator"), [(";", b";"), ("\t", b"\t"), ("|", b"|"), (",", b",")]
)
def test_each_delimiter_reads_the_same_rows(tmp_path, delimiter, separator):
    lines = [[b"Incident ID", b"Status"], [b"IM1", b"Closed"], [b'"IM2"', b'"a; b, c|d"']]
    data = b"\n".join(separator.join(fields) for fields in lines) + b"\n"

    read = read_records(write(tmp_path, data), delimiter=delimiter)

    assert read.rows["Incident ID"].tolist() == ["IM1", "IM2"]
    assert read.rows["Status"].tolist() == ["Closed", "a; b, c|d"]
    assert read.rows.index.tolist() == [2, 3]


def test_quoted_line_breaks_keep_their_lines_with_another_delimiter(tmp_path):
    data = b'id;text\nIM1;"two\nlines; here"\nIM2;x\n'

    rows = read_records(write(tmp_path, data), delimiter=";").rows

    assert rows["text"].tolist() == ["two\nlines; here", "x"]
    assert rows.index.tolist() == [2, 4]


@pytest.mark.parametrize(
    ("encoding", "data", "text"),
    [
        ("latin-1", "Status\nGeïntegreerd\n".encode("latin-1"), "Geïntegreerd"),
        ("cp1252", "Status\nCafé – “quoted”\n".encode("cp1252"), "Café – “quoted”"),
        ("utf-8-sig", BOM + "Status\nZürich\n".encode(), "Zürich"),
        ("utf-8", "Status\nZürich\n".encode(), "Zürich"),
    ],
)
def test_each_encoding_reads_its_text(tmp_path, encoding, data, text):
    rows = read_records(write(tmp_path, data), encoding=encoding).rows

    assert list(rows.columns) == ["Status"]
    assert rows["Status"].tolist() == [text]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "latin-1", "cp1252"])
def test_a_bom_at_the_start_is_dropped_whatever_the_encoding(tmp_path, encoding):
    path = write(tmp_path, BOM + b"Incident ID;Status\nIM1;Closed\n")

    rows = read_records(path, delimiter=";", encoding=encoding).rows

    assert list(rows.columns) == ["Incident ID", "Status"]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_stray_bom_inside_the_file_is_dropped_from_the_values(tmp_path, encoding):
    # Two exports pasted together: the second one's BOM now starts a line.
    data = b"Incident ID;Status\nIM1;Closed\n" + BOM + b"IM2;Open\nIM3;" + BOM + b"New\n"

    rows = read_records(write(tmp_path, data), delimiter=";", encoding=encoding).rows

    assert rows["Incident ID"].tolist() == ["IM1", "IM2", "IM3"]
    assert rows["Status"].tolist() == ["Closed", "Open", "New"]


def test_wholly_blank_rows_are_skipped_and_counted(tmp_path):
    data = b"id;state;group\nIM1;Closed;TEAM1\n;;\nIM2;;TEAM2\n ; ;\n;;\n"

    read = read_records(write(tmp_path, data), delimiter=";")

    assert read.blank_rows == 3
    assert read.rows["id"].tolist() == ["IM1", "IM2"]
    assert read.rows.index.tolist() == [2, 4]  # lines stay the file's lines


def test_read_rows_skips_blank_rows_of_a_comma_separated_file_too(tmp_path):
    rows = read_rows(write(tmp_path, b"number,priority\nINC1,2\n,\n"))

    assert rows["number"].tolist() == ["INC1"]


def test_a_file_of_blank_rows_only_has_no_records(tmp_path):
    read = read_records(write(tmp_path, b"a;b\n;\n;\n"), delimiter=";")

    assert (len(read.rows), read.blank_rows) == (0, 2)
    assert list(read.rows.columns) == ["a", "b"]


def test_blank_rows_of_the_canonical_csv_are_skipped_and_counted(tmp_path):
    data = b"incident_id,opened_at,priority\nINC1,2026-11-02T09:00:00Z,2\n,,\n,,\n"

    frame, blank = read_canonical_records(write(tmp_path, data))

    assert (frame["incident_id"].tolist(), blank) == (["INC1"], 2)
    read = read_batch(write(tmp_path, data), format="csv")
    assert (read.records, read.blank_rows, read.batch.rejected.empty) == (1, 2, True)


# --- a wrong delimiter or encoding is one line saying what to set -------------------------


def test_a_wrong_delimiter_names_the_one_the_file_has(tmp_path):
    path = write(tmp_path, b"Incident ID;Status;Open Time\nIM1;Closed;5-2-2012 13:32\n")

    with pytest.raises(InputFileError) as caught:
        read_records(path, settings="the mapping bank.yaml")

    assert str(caught.value) == (
        f"{path}: looks like a ';'-separated file (its header has no ','); "
        'set delimiter: ";" in the mapping bank.yaml'
    )


def test_a_wrong_delimiter_without_settings_says_to_export_again(tmp_path):
    path = write(tmp_path, b"a|b|c\n1|2|3\n")

    with pytest.raises(InputFileError, match=r"'\|'-separated .* export it ';'-separated"):
        read_records(path, delimiter=";")


def test_a_tab_delimiter_is_named_tab(tmp_path):
    path = write(tmp_path, b"a\tb\n1\t2\n")

    with pytest.raises(InputFileError, match=r'tab-separated .*set delimiter: "\\t" in m.yaml'):
        read_records(path, delimiter=";", settings="m.yaml")


def test_latin1_read_as_utf8_says_which_encoding_to_set(tmp_path):
    path = write(tmp_path, "Status\nClosed\nGeïntegreerd\n".encode("latin-1"))

    with pytest.raises(InputFileError) as caught:
        read_records(path, settings="the mapping bank.yaml")

    assert str(caught.value) == (
        f"{path}: not valid UTF-8 on line 3, byte 3 of the line (bytes ef 6e 74 65); it may "
        "be Windows-1252 or Latin-1: set encoding: latin-1 or cp1252 in the mapping bank.yaml"
    )


def test_utf8_read_as_latin1_is_refused_rather_than_garbled(tmp_path):
    path = write(tmp_path, "Owner\nJoost\nBjörn\n".encode())

    with pytest.raises(InputFileError) as caught:
        read_records(path, encoding="latin-1", settings="the mapping carmaker.yaml")

    assert str(caught.value) == (
        f"{path}: the mapping carmaker.yaml says encoding latin-1, but the file is UTF-8 "
        "text (line 3 has UTF-8 characters); set encoding: utf-8"
    )


def test_bytes_cp1252_does_not_define_are_named(tmp_path):
    path = write(tmp_path, b"Status\nok\nbad \x81 byte\n")

    with pytest.raises(InputFileError) as caught:
        read_records(path, encoding="cp1252")

    assert str(caught.value) == (
        f"{path}: not cp1252 text on line 3 (byte 0x81 has no character in cp1252); "
        "try encoding: latin-1"
    )


def test_an_unknown_delimiter_or_encoding_is_a_programming_error(tmp_path):
    path = write(tmp_path, b"a\n1\n")
    with pytest.raises(ValueError, match="delimiter"):
        read_records(path, delimiter=":")
    with pytest.raises(ValueError, match="encoding"):
        read_records(path, encoding="utf-16")
