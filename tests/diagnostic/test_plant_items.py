"""Plant items the kernel checks and the apps' checks judge: e-signatures on a changed record,
instruments past their calibration due date, deviations and CAPA past due."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from equipment.tests.factories import InstrumentFactory
from mes.diagnostic import services
from mes.diagnostic.tests.factories import item, period
from quality import services as quality
from quality.models import Deviation
from recipes.models import RecipeVersion

pytestmark = pytest.mark.django_db


def test_a_record_changed_after_signing_fails_the_signature_item(qa_user, version):
    before = services.assessment_run(actor=qa_user, period=period())
    RecipeVersion.objects.filter(pk=version.pk).update(description="changed after approval")

    a = services.assessment_run(actor=qa_user, period=period())

    assert item(before, "mes.signatures_intact")["status"] == "pass"
    found = item(a, "mes.signatures_intact")
    assert found["status"] == "fail"
    assert found["measured"]["invalid"] == 2  # its submission and its approval


def test_an_overdue_instrument_in_service_is_a_warning(qa_user):
    InstrumentFactory(
        code="PH-9",
        last_calibrated_at=timezone.now() - timedelta(days=40),
        calibration_interval_days=30,
    )
    InstrumentFactory(code="TT-9")

    a = services.assessment_run(actor=qa_user, period=period())

    found = item(a, "equipment.instruments_calibrated")
    assert (found["status"], found["measured"]["overdue"]) == ("warning", 1)
    assert found["evidence"][-1]["value"] == "PH-9"


def test_a_deviation_past_its_due_date_is_a_warning(qa_user):
    deviation = quality.deviation_open(
        actor=get_user_model().objects.get(username="system"),
        title="Hold time breached",
        description="B-1 phase 3",
        source={"kind": "batch", "ref": "B-1", "url": "/batches/"},
    )
    before = services.assessment_run(actor=qa_user, period=period())
    Deviation.objects.filter(pk=deviation.pk).update(
        due_at=timezone.localdate() - timedelta(days=1)
    )

    after = services.assessment_run(actor=qa_user, period=period())

    assert item(before, "quality.deviations_on_time")["status"] == "pass"
    found = item(after, "quality.deviations_on_time")
    assert (found["status"], found["measured"]["overdue_open"]) == ("warning", 1)
