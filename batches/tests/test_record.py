"""What issue 5 asks the record to show, beyond the single rules: refusals of a draft version
and a dirty vessel, the review-by-exception content, the material reconciliation per input."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from batches import ebr, selectors, services
from batches.choices import BatchStatus
from batches.models import BatchOrder
from batches.tests import factories as f
from batches.tests.test_services import _close_phase, _react_values
from equipment.exceptions import EquipmentNotUsable
from recipes.exceptions import RecipeVersionNotUsable
from recipes.tests.factories import draft_recipe

pytestmark = pytest.mark.django_db


def test_a_draft_version_cannot_make_a_batch(planner, recipe_author):
    draft = draft_recipe(author=recipe_author, code="RESIN-D")

    with pytest.raises(RecipeVersionNotUsable) as exc:
        f.batch_order(planner=planner, version=draft)

    assert exc.value.status_code == 409
    assert "Version 1 of RESIN-D is draft" in exc.value.detail
    assert BatchOrder.objects.count() == 0


def test_a_dirty_vessel_is_refused_and_nothing_written(planner, operator, version):
    batch = f.batch_order(planner=planner, version=version)
    dirty = f.reactor()  # never cleaned

    with pytest.raises(EquipmentNotUsable):
        services.batch_start(actor=operator, batch=batch, unit=dirty)

    batch.refresh_from_db()
    assert (batch.status, batch.unit, batch.events.count()) == (BatchStatus.CREATED, None, 1)


def _run_with_exceptions(batch, operator, qa):
    """Charge temperature out of limits then corrected; the critical phase left unverified."""
    mono = f.released_lot(material="RM-MONO", quantity="1000", qa=qa)
    solv = f.released_lot(material="RM-SOLV", quantity="1500", qa=qa)
    p1 = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    p2 = services.phase_start(actor=operator, phase=f.phase(batch, 2))
    wrong = services.parameter_value_record(
        actor=operator, phase=p1, name="Charge temperature", value="40"
    )
    services.parameter_value_correct(actor=operator, value=wrong, new_value="30", reason="misread")
    services.material_dispense(actor=operator, phase=p1, lot=mono, quantity="800")
    services.material_dispense(actor=operator, phase=p2, lot=solv, quantity="1200")
    _close_phase(p1, operator)
    _close_phase(p2, operator)
    p3 = services.phase_start(
        actor=operator, phase=f.phase(batch, 3), at=timezone.now() - timedelta(minutes=150)
    )
    _react_values(p3, operator)
    _close_phase(p3, operator)
    return mono, solv


def test_review_by_exception_lists_what_needs_a_reviewer(batch, operator, qa_user, client):
    _run_with_exceptions(batch, operator, qa_user)

    review = selectors.batch_review_summary(batch)

    assert [d.title for d in review.deviations] == [
        f"{batch.number}: Charge temperature out of limits"
    ]
    assert [(v.phase.path, v.name, v.value_text) for v in review.out_of_limit] == [
        ("UP1/OP1/PH1", "Charge temperature", "40")
    ]
    assert [(v.name, v.value_text, v.reason) for v in review.corrections] == [
        ("Charge temperature", "30", "misread")
    ]
    assert [p.path for p in review.unverified] == ["UP1/OP2/PH1"]
    assert review.exception_count == 4
    client.force_login(qa_user)
    page = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()
    assert "Review by exception (4)" in page
    assert "UP1/OP1/PH1: Charge temperature = 40 °C outside 15 … 35" in page
    assert "UP1/OP1/PH1: Charge temperature corrected to 30 (misread)" in page
    assert "UP1/OP2/PH1 not verified" in page


def test_material_reconciliation_per_input(batch, operator, qa_user, client):
    mono, solv = _run_with_exceptions(batch, operator, qa_user)

    rows = {r["material"]: r for r in selectors.batch_reconciliation(batch)}

    assert list(rows) == ["RM-MONO", "RM-SOLV", "RM-INIT", "RM-AID"]
    assert [
        (
            r["planned"],
            r["low"],
            r["high"],
            r["dispensed"],
            r["consumed"],
            r["returned"],
            r["difference"],
            r["is_within_tolerance"],
            r["lots"],
        )
        for r in (rows["RM-MONO"], rows["RM-SOLV"])
    ] == [
        (
            Decimal("800"),
            Decimal("796"),
            Decimal("804"),
            Decimal("800"),
            Decimal("800"),
            0,
            0,
            True,
            [mono.lot_number],
        ),
        (
            Decimal("1200"),
            Decimal("1188"),
            Decimal("1212"),
            Decimal("1200"),
            Decimal("1200"),
            0,
            0,
            True,
            [solv.lot_number],
        ),
    ]
    assert (rows["RM-AID"]["dispensed"], rows["RM-AID"]["is_within_tolerance"]) == (0, False)
    exported = {r["material"]: r for r in ebr.ebr_export(batch)["reconciliation"]}
    assert exported["RM-MONO"]["dispensed"] == "800.000000"
    assert exported["RM-MONO"]["lots"] == [mono.lot_number]
    client.force_login(qa_user)
    page = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()
    assert 'data-testid="reconciliation"' in page
