"""The report on disk: `archive_report`'s folder per period, and `impactlens report`.

The command runs in this process (`impactlens.cli.main`, as the console script does),
on the fixtures; what it writes is held against the fixture review rendered here.
"""

from __future__ import annotations

import io

import pytest
from impactlens.reports import archive_report, render, report_tables
from impactlens.reports.archive import MAP_VERSION_FILE

from impactlens.cli import main
from impactlens.cli.app import err as err_console
from impactlens.cli.app import out as out_console
from tests.reports.conftest import AS_OF, HISTORY, INCIDENTS, MAP, WEEK

FROM_CSV = (
    "--map", str(MAP), "--incidents", str(INCIDENTS), "--history", str(HISTORY),
    "--as-of", AS_OF.isoformat(),
)  # fmt: skip
EDITIONS = ("report.html", "report.md", "review.json", MAP_VERSION_FILE)


def expected_files(found) -> set[str]:
    return {*EDITIONS, *(f"csv/{name}.csv" for name in report_tables(found))}


def files_in(folder) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


# --- archive_report ---------------------------------------------------------------------


def test_archiving_writes_every_edition_into_the_periods_folder(tmp_path, weekly, weekly_md):
    tmp_path.chmod(0o755)  # an archive others may read (pytest makes its folders 0700)
    archived = archive_report(weekly, tmp_path)
    folder = tmp_path / WEEK
    assert archived.directory == folder and archived.period == WEEK
    assert files_in(folder) == expected_files(weekly)
    assert {str(p.relative_to(folder)) for p in archived.files} == expected_files(weekly)
    assert len(report_tables(weekly)) == len(list((folder / "csv").iterdir())) == 10
    assert (folder / MAP_VERSION_FILE).read_text().strip() == weekly.map_version
    assert (folder / "report.md").read_text(encoding="utf-8") == weekly_md
    assert archived.html == folder / "report.html" and archived.markdown == folder / "report.md"
    assert [p.name for p in tmp_path.iterdir()] == [WEEK]  # no staging folder left
    # The folder is as readable as the archive it is in (not mkdtemp's private 0700).
    assert folder.stat().st_mode & 0o777 == 0o755


def test_archiving_a_period_again_replaces_its_folder_whole(tmp_path, weekly):
    archive_report(weekly, tmp_path)
    folder = tmp_path / WEEK
    (folder / "stray.txt").write_text("from an earlier run")
    (folder / "csv" / "old_table.csv").write_text("a\n1\n")
    (folder / "report.md").write_text("an older report")
    archive_report(weekly, tmp_path)
    assert files_in(folder) == expected_files(weekly)
    assert (folder / "report.md").read_text(encoding="utf-8") == render(weekly, "md")
    # Fewer formats: the folder holds only those (and the map version), nothing older.
    archived = archive_report(weekly, tmp_path, formats=("md",))
    assert files_in(folder) == {"report.md", MAP_VERSION_FILE}
    assert archived.html is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [WEEK]


# --- impactlens report ------------------------------------------------------------------


@pytest.fixture
def consoles(monkeypatch) -> tuple[io.StringIO, io.StringIO]:
    """What the CLI's consoles print (stdout, stderr). Their ``_file`` is replaced, not
    their ``file``: a console whose ``file`` was set keeps writing to that stream."""
    printed, errors = io.StringIO(), io.StringIO()
    monkeypatch.setattr(out_console, "_file", printed)
    monkeypatch.setattr(err_console, "_file", errors)
    return printed, errors


def run(capsys, consoles, *args: str) -> tuple[int, str, str]:
    """`impactlens *args`: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as done:
        main([*args])
    code = done.value.code
    captured = capsys.readouterr()
    printed, errors = consoles
    return (
        0 if code is None else int(code),
        captured.out + printed.getvalue(),
        captured.err + errors.getvalue(),
    )


def test_report_writes_the_periods_folder(tmp_path, capsys, consoles, weekly, weekly_md):
    code, out, err = run(
        capsys, consoles, "report", *FROM_CSV, "--week", WEEK, "--out", str(tmp_path)
    )
    assert code == 0, err
    folder = tmp_path / WEEK
    assert files_in(folder) == expected_files(weekly)
    assert (folder / "report.md").read_text(encoding="utf-8") == weekly_md
    assert f"written to {folder}/ ({len(expected_files(weekly))} files)" in out
    assert str(folder / "report.html") in out
    assert "Traceback" not in err


def test_report_prints_one_edition_to_stdout(capsys, consoles, weekly_md):
    code, out, err = run(
        capsys, consoles, "report", *FROM_CSV, "--week", WEEK, "--format", "md", "--out", "-"
    )
    assert code == 0, err
    assert out == weekly_md
    assert "could not be placed" in err  # the review's notes go to stderr, not the report


def test_report_with_some_formats_writes_only_those(tmp_path, capsys, consoles, weekly):
    args = ("--week", WEEK, "--format", "json", "--format", "csv", "--out", str(tmp_path))
    code, _, err = run(capsys, consoles, "report", *FROM_CSV, *args)
    assert code == 0, err
    assert files_in(tmp_path / WEEK) == expected_files(weekly) - {"report.html", "report.md"}


def one_error(err: str) -> str:
    """The one error line of stderr (notes may come before it), with no traceback."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert err.rstrip().endswith(errors[0])
    return errors[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--week", WEEK, "--month", "2026-10"), ["--week", "--month", "not both"]),
        (("--format", "pdf"), ["'pdf'", "html", "md", "csv", "json"]),
        (("--month", "2026-13"), ["2026-13", "month"]),
        (("--format", "csv", "--out", "-"), ["--out -", "html, md or json"]),
    ],
    ids=["week-and-month", "unknown-format", "month-13", "csv-to-stdout"],
)
def test_report_refuses_bad_options_with_one_line(tmp_path, capsys, consoles, args, words):
    out_dir = () if "--out" in args else ("--out", str(tmp_path / "r"))
    code, _, err = run(capsys, consoles, "report", *FROM_CSV, *args, *out_dir)
    assert code == 2
    line = one_error(err)
    for word in words:
        assert word in line
    assert not (tmp_path / "r").exists()
