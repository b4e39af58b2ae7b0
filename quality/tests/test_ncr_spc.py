"""Nonconformances (scrap / rework / use as is, signed) and SPC capture: values recorded by
key from other apps, the chart's limits and violations, a deviation from a violation."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from genealogy.tests.factories import received_lot
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import Conflict, InvalidInput, InvalidTransition, NotAuthorized
from quality import selectors, services, signals
from quality.exceptions import CharacteristicNotFound
from quality.models import Nonconformance, QualityEvent, SpcValue
from quality.tests.factories import CharacteristicFactory, sign_as

pytestmark = pytest.mark.django_db

WO = {"kind": "wo_operation", "ref": "WO-88/op 20", "url": "/workorders/88/"}


def written():
    return (
        Nonconformance.objects.count(),
        Nonconformance.objects.filter(status="dispositioned").count(),
        Signature.objects.count(),
        QualityEvent.objects.count(),
        SpcValue.objects.count(),
    )


@pytest.fixture
def ncr(operator):
    lot = received_lot(lot_number="C-1", quantity="40")
    return services.nonconformance_open(
        actor=operator,
        description="Scratched housings",
        defect_code="SCR",
        lot=lot,
        quantity="3",
        source=WO,
    )


def test_open_a_nonconformance(ncr, operator):
    assert ncr.number == f"NCR-{ncr.pk:05d}"
    assert (ncr.status, ncr.quantity, ncr.uom, ncr.opened_by) == (
        "open",
        Decimal("3"),
        "kg",
        operator,
    )
    assert (ncr.source_kind, ncr.source_ref) == ("wo_operation", "WO-88/op 20")


def test_more_than_the_lot_holds_is_refused(operator):
    lot = received_lot(lot_number="C-2", quantity="5")
    before = written()

    with pytest.raises(InvalidInput) as refused:
        services.nonconformance_open(actor=operator, description="d", lot=lot, quantity="6")

    assert refused.value.detail == "Lot C-2 holds 5.000000 kg; 6 cannot be nonconforming."
    assert written() == before


def test_scrap_disposition_is_signed(ncr, qa_user, django_capture_on_commit_callbacks):
    heard = []
    signals.nonconformance_dispositioned.connect(
        lambda **kw: heard.append(kw), weak=False, dispatch_uid="n1"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            done = services.nonconformance_disposition(
                actor=qa_user,
                ncr=ncr,
                disposition="scrap",
                justification="Cosmetic defect on a visible face",
                signer=sign_as(qa_user),
            )
    finally:
        signals.nonconformance_dispositioned.disconnect(dispatch_uid="n1")

    assert (done.status, done.disposition, done.dispositioned_by) == (
        "dispositioned",
        "scrap",
        qa_user,
    )
    [signature] = signatures_for_record(done)
    assert (signature.meaning, signature.reason) == (
        "approved",
        "Scrap: Cosmetic defect on a visible face",
    )
    assert heard[0]["disposition"] == "scrap"
    assert heard[0]["quantity"] == "3.000000"
    assert heard[0]["source_ref"] == "WO-88/op 20"


def test_use_as_is_needs_a_deviation(ncr, qa_user):
    before = written()

    with pytest.raises(InvalidInput, match="link the deviation that documents it"):
        services.nonconformance_disposition(
            actor=qa_user,
            ncr=ncr,
            disposition="use_as_is",
            justification="Within customer tolerance",
            signer=sign_as(qa_user),
        )

    assert written() == before


def test_use_as_is_with_a_deviation(ncr, qa_user):
    deviation = services.deviation_open(actor=qa_user, title="Concession", description="d")

    done = services.nonconformance_disposition(
        actor=qa_user,
        ncr=ncr,
        disposition="use_as_is",
        justification="Customer concession C-17",
        signer=sign_as(qa_user),
        deviation=deviation,
    )

    assert (done.disposition, done.deviation) == ("use_as_is", deviation)


def test_an_operator_cannot_disposition(ncr, operator):
    before = written()

    with pytest.raises(NotAuthorized, match=r"quality.disposition_nonconformance"):
        services.nonconformance_disposition(
            actor=operator,
            ncr=ncr,
            disposition="scrap",
            justification="x",
            signer=sign_as(operator),
        )

    assert written() == before


def test_a_dispositioned_ncr_cannot_be_dispositioned_again(ncr, qa_user):
    services.nonconformance_disposition(
        actor=qa_user,
        ncr=ncr,
        disposition="rework",
        justification="Re-polish",
        signer=sign_as(qa_user),
    )
    before = written()

    with pytest.raises(InvalidTransition) as refused:
        services.nonconformance_disposition(
            actor=qa_user, ncr=ncr, disposition="scrap", justification="x", signer=sign_as(qa_user)
        )

    assert refused.value.detail == f"{ncr.number} is already dispositioned (Rework)."
    assert written() == before


# --- SPC capture -----------------------------------------------------------------------------


def _record(key, values, actor, start=None):
    start = start or timezone.now() - timedelta(hours=len(values))
    return [
        services.spc_record_value(
            actor=actor,
            characteristic_key=key,
            value=v,
            at=start + timedelta(minutes=10 * i),
            source_ref=f"B-{i}",
        )
        for i, v in enumerate(values)
    ]


def test_values_recorded_by_key_make_an_individuals_chart(operator):
    characteristic = CharacteristicFactory(key="visc", lsl=Decimal("8"), usl=Decimal("16"))
    _record("visc", [10, 12, 11, 13, 12], operator)

    chart = selectors.spc_chart(characteristic)

    assert [p.y for p in chart.points] == [10.0, 12.0, 11.0, 13.0, 12.0]
    assert [p.secondary for p in chart.points] == [None, 2.0, 1.0, 2.0, 1.0]
    assert chart.center == pytest.approx(11.6)
    assert chart.ucl == pytest.approx(15.59)
    assert chart.lcl == pytest.approx(7.61)
    assert chart.secondary_ucl == pytest.approx(4.9005)
    assert chart.violations == []
    # σ within = MR̄ / d2 = 1.5 / 1.128; the lower side is nearer: Cpk = (11.6 - 8) / 3σ
    assert chart.capability.cpk == pytest.approx((11.6 - 8) / (3 * 1.5 / 1.128))
    assert chart.capability.cp == pytest.approx((16 - 8) / (6 * 1.5 / 1.128))
    assert chart.limits_basis == "limits from the 5 points charted"


def test_subgroups_make_an_xbar_r_chart(operator):
    characteristic = CharacteristicFactory(key="fill", subgroup_size=3)
    _record("fill", [10, 12, 11, 11, 13, 12, 9, 11, 10, 50], operator)  # the 10th waits

    chart = selectors.spc_chart(characteristic)

    assert [p.y for p in chart.points] == [11.0, 12.0, 10.0]
    assert [p.secondary for p in chart.points] == [2.0, 2.0, 2.0]
    assert chart.ucl == pytest.approx(13.046)
    assert chart.secondary_ucl == pytest.approx(5.148)
    assert chart.total_values == 10


def test_baseline_limits_flag_a_shift(operator, django_capture_on_commit_callbacks):
    characteristic = CharacteristicFactory(key="temp", baseline_size=8)
    _record("temp", [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0], operator)
    heard = []
    signals.spc_rule_violated.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="s1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            spike = services.spc_record_value(
                actor=operator, characteristic_key="temp", value="13.0", source_ref="B-99"
            )
    finally:
        signals.spc_rule_violated.disconnect(dispatch_uid="s1")

    chart = selectors.spc_chart(characteristic)
    assert chart.center == pytest.approx(10.0125)
    assert [(v.rule, v.index) for v in chart.violations] == [(1, 8)]
    assert heard == [
        {
            "signal": signals.spc_rule_violated,
            "sender": SpcValue,
            "characteristic_id": characteristic.pk,
            "key": "temp",
            "value_id": spike.pk,
            "rules": [1],
        }
    ]


def test_unknown_characteristic_is_refused(operator):
    before = written()

    with pytest.raises(CharacteristicNotFound, match=re.escape("No SPC characteristic 'nope'.")):
        services.spc_record_value(actor=operator, characteristic_key="nope", value=1)

    assert written() == before


def test_a_value_in_the_future_is_refused(operator):
    CharacteristicFactory(key="visc2")
    before = written()

    with pytest.raises(
        InvalidInput, match=re.escape("The measurement time cannot be in the future.")
    ):
        services.spc_record_value(
            actor=operator,
            characteristic_key="visc2",
            value=1,
            at=timezone.now() + timedelta(hours=1),
        )

    assert written() == before


def test_an_inactive_characteristic_refuses_values(operator):
    CharacteristicFactory(key="old", is_active=False)
    before = written()

    with pytest.raises(Conflict, match=re.escape("SPC characteristic old is inactive.")):
        services.spc_record_value(actor=operator, characteristic_key="old", value=1)

    assert written() == before


def test_open_a_deviation_from_a_violation(operator, qa_user):
    characteristic = CharacteristicFactory(
        key="temp2", name="Jacket temp", unit="°C", baseline_size=8
    )
    values = _record("temp2", [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 13.0], operator)

    deviation = services.deviation_open_from_spc(
        actor=qa_user,
        characteristic=characteristic,
        point_index=8,
        rules=[1],
        url="/quality/spc/temp2/",
    )

    assert deviation.title.startswith("SPC temp2: rule 1 at ")
    assert deviation.description.startswith("Jacket temp: point 9 = 13 °C at ")
    assert (
        "(B-8). rule 1: One point beyond 3σ (outside the control limits)." in deviation.description
    )
    assert (deviation.source_kind, deviation.source_ref, deviation.source_url) == (
        "spc",
        f"temp2#{values[8].pk}",
        "/quality/spc/temp2/",
    )


def test_no_deviation_from_a_point_without_violation(operator, qa_user):
    characteristic = CharacteristicFactory(key="calm")
    _record("calm", [10, 12, 11, 13, 12], operator)
    before = written()

    with pytest.raises(InvalidInput, match=re.escape("No rule fires at point 2 of calm.")):
        services.deviation_open_from_spc(
            actor=qa_user, characteristic=characteristic, point_index=1, rules=[], url="/x/"
        )

    assert written() == before
