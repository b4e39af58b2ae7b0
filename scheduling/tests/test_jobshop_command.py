"""`manage.py solve_jobshop FILE --time-limit S [--flexible]` on the shipped benchmark files."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "jobshop"


def run(*args) -> dict[str, str]:
    out = StringIO()
    call_command("solve_jobshop", *args, stdout=out)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)


def test_ft06_prints_optimum_feasibility_and_bound():
    lines = run(str(DATA / "jsp" / "ft06.txt"), "--time-limit", "5")
    assert lines["makespan"] == "55"
    assert lines["feasible"] == "yes"
    assert lines["lower bound"] == "55"
    assert lines["status"] == "optimal"
    assert lines["instance"] == "ft06 (6 jobs, 6 machines, 36 operations)"
    assert float(lines["time"].split()[0]) < 5.5


def test_flexible_mk01():
    lines = run(str(DATA / "fjsp" / "mk01.txt"), "--time-limit", "3", "--flexible")
    assert lines["feasible"] == "yes"
    assert 40 <= int(lines["makespan"]) <= 42
    assert int(lines["lower bound"]) <= 40
    assert lines["instance"] == "mk01 (10 jobs, 6 machines, 55 operations, flexible)"


def test_missing_file_and_bad_file_are_refused(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "nope.txt"), "--time-limit", "1")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\n0 3 1 4\n")
    with pytest.raises(
        CommandError, match="invalid instance: the header announces 2 jobs, the file has 1"
    ):
        run(str(bad), "--time-limit", "1")
