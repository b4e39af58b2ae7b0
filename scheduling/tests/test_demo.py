"""The scheduling demo step: a published schedule and a proposed one; a second run changes
nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from scheduling import services
from scheduling.models import Schedule

pytestmark = pytest.mark.django_db


def _load() -> str:
    out = StringIO()
    call_command("load_demo", "--no-input", stdout=out)
    return out.getvalue()


def test_demo_schedules():
    first = _load()
    assert "solved and published" in first
    published = Schedule.objects.get(status="published")
    proposed = Schedule.objects.get(status="proposed")
    assert proposed.based_on == published
    for schedule in (published, proposed):
        assert schedule.solver_status == "done"
        assert services.schedule_conflicts(schedule) == ([], {})
        assert schedule.entries.filter(kind="batch").count() >= 2
        assert schedule.entries.filter(kind="operation").exists()
    second = _load()
    assert Schedule.objects.count() == 2
    assert "solved and published" not in second
