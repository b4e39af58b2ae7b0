"""Numeric process parameters captured in batches feed quality's SPC: one characteristic per
recipe + phase + parameter (created on first use), one point per completed phase with the
current (corrected) value, in the completion's transaction; the batch page links the chart."""

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import services
from batches.tests import factories as f
from quality.models import Characteristic, SpcValue
from quality.selectors import spc_chart
from quality.tests.factories import CharacteristicFactory

pytestmark = pytest.mark.django_db

KEY = "resin-t-up1-op1-ph1-charge-temperature"


def _charge(batch, operator, value, *, correct_to=None):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    entry = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value=value
    )
    if correct_to is not None:
        entry = services.parameter_value_correct(
            actor=operator, value=entry, new_value=correct_to, reason="misread"
        )
    return ph, entry


def test_a_completed_phase_sends_its_current_value_to_spc(batch, operator):
    ph, corrected = _charge(batch, operator, "24", correct_to="26")
    assert not SpcValue.objects.exists()  # nothing while the value may still be corrected

    services.phase_complete(actor=operator, phase=ph, signer=f.signer_for(operator))

    characteristic = Characteristic.objects.get(key=KEY)
    assert (
        characteristic.name,
        characteristic.unit,
        characteristic.lsl,
        characteristic.usl,
        characteristic.target,
        characteristic.material_id,
    ) == ("RESIN-T Charge monomer: Charge temperature", "°C", 15, 35, 25, batch.product_id)
    point = SpcValue.objects.get(characteristic=characteristic)
    assert (str(point.value.normalize()), point.at, point.source_ref, point.recorded_by) == (
        "26",
        corrected.entered_at,
        f"{batch.number}/UP1/OP1/PH1",
        operator,
    )


def test_the_chart_collects_the_values_across_batches(
    batch, planner, operator, supervisor, version, client
):
    ph, _ = _charge(batch, operator, "25")
    services.phase_complete(actor=operator, phase=ph, signer=f.signer_for(operator))
    other_unit = f.reactor(cleaned_by=operator, verified_by=supervisor)
    second = f.started_batch(planner=planner, operator=operator, version=version, unit=other_unit)
    ph2, _ = _charge(second, operator, "31")
    services.phase_complete(actor=operator, phase=ph2, signer=f.signer_for(operator))

    chart = spc_chart(Characteristic.objects.get(key=KEY))

    assert [(p.label, p.source_ref) for p in chart.points] == [
        ("25", f"{batch.number}/UP1/OP1/PH1"),
        ("31", f"{second.number}/UP1/OP1/PH1"),
    ]
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    client.force_login(operator)
    page = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()
    assert f'href="{reverse("quality:spc_chart", args=[KEY])}"' in page


def test_a_characteristic_qa_deactivated_is_skipped_and_the_record_goes_on(batch, operator):
    CharacteristicFactory(key=KEY, name="retired", is_active=False)
    ph, _ = _charge(batch, operator, "25")

    done = services.phase_complete(actor=operator, phase=ph, signer=f.signer_for(operator))

    assert done.status == "completed"
    assert not SpcValue.objects.exists()


def test_spc_key_is_a_bounded_slug():
    key = services.spc_key("R" * 60, "UP1/OP12/PH3", "Reaction temperature " * 5)

    assert len(key) <= 100
    assert key.startswith("rrrr")
    assert services.spc_key("RESIN-T", "UP1/OP1/PH1", "Charge temperature") == KEY
