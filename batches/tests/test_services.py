from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from batches import services
from batches.choices import BatchEventType, BatchStatus, PhaseStatus
from batches.exceptions import (
    BatchIncomplete,
    BatchNotReleasable,
    PhaseNotActive,
    PhaseOutOfSequence,
)
from batches.models import BatchEvent, BatchOrder, MaterialUse, ParameterValue, PhaseExecution
from batches.tests import factories as f
from equipment.exceptions import EquipmentNotUsable
from equipment.tests.factories import EquipmentClassFactory, UnitFactory
from genealogy.models import Lot, LotEvent, Material
from genealogy.tests.factories import received_lot
from mes.esign.models import Signature
from mes.exceptions import Conflict, DomainError, InvalidInput, NotAuthorized, SignatureRefused
from quality.models import Deviation
from quality.tests.factories import PASSING
from recipes.exceptions import BatchSizeOutOfRange

pytestmark = pytest.mark.django_db


def _deviation_titles(batch: BatchOrder) -> list[str]:
    return list(
        Deviation.objects.filter(source_kind="batch", source_ref=batch.number)
        .order_by("id")
        .values_list("title", flat=True)
    )


def _signatures(record: Any) -> list[tuple[str, int]]:
    return list(
        Signature.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=str(record.pk)
        )
        .order_by("id")
        .values_list("meaning", "signer")
    )


def _close_phase(phase: PhaseExecution, actor: Any, **kw: Any) -> PhaseExecution:
    return services.phase_complete(actor=actor, phase=phase, signer=f.signer_for(actor), **kw)


# --- creation ---------------------------------------------------------------------------------


def test_create_freezes_the_scaled_control_recipe(planner, version):
    batch = f.batch_order(planner=planner, version=version, batch_size="2000", number="B-1")

    assert batch.status == BatchStatus.CREATED
    assert batch.batch_size == Decimal("2000")
    assert batch.control_recipe["scale_factor"] == "0.8"
    assert batch.control_recipe_hash.startswith("sha256:")
    phases = list(batch.phases.order_by("sequence").values_list("sequence", "path", "name"))
    assert phases == [
        (1, "UP1/OP1/PH1", "Charge monomer"),
        (2, "UP1/OP1/PH2", "Charge solvent"),
        (3, "UP1/OP2/PH1", "React hold"),
        (4, "UP1/OP2/PH2", "Filter"),
    ]
    monomer = f.phase(batch, 1).definition["inputs"][0]
    assert (monomer["quantity"], monomer["quantity_min"], monomer["quantity_max"]) == (
        "800",
        "796",
        "804",
    )
    assert list(batch.events.values_list("type", flat=True)) == [BatchEventType.CREATED]


def test_create_refuses_a_size_outside_the_range_and_writes_nothing(planner, version):
    with pytest.raises(BatchSizeOutOfRange) as exc:
        f.batch_order(planner=planner, version=version, batch_size="6000")

    assert "outside the range" in exc.value.detail
    assert BatchOrder.objects.count() == 0
    assert PhaseExecution.objects.count() == 0


def test_create_refuses_an_operator_and_writes_nothing(operator, version):
    with pytest.raises(NotAuthorized) as exc:
        f.batch_order(planner=operator, version=version)

    assert "batches.create_batchorder" in exc.value.detail
    assert BatchOrder.objects.count() == 0


# --- start ------------------------------------------------------------------------------------


def test_start_puts_the_unit_in_use(batch, unit):
    unit.refresh_from_db()
    assert batch.status == BatchStatus.STARTED
    assert batch.unit == unit
    assert unit.status == "in_use"
    assert list(batch.events.values_list("type", flat=True)) == [
        BatchEventType.CREATED,
        BatchEventType.STARTED,
    ]


def test_start_refuses_a_unit_of_the_wrong_class_and_writes_nothing(planner, operator, version):
    batch = f.batch_order(planner=planner, version=version)
    mixer = UnitFactory(equipment_class=EquipmentClassFactory(name="mixer"))

    with pytest.raises(EquipmentNotUsable) as exc:
        services.batch_start(actor=operator, batch=batch, unit=mixer)

    assert "reactor" in exc.value.detail
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CREATED
    assert batch.unit is None
    assert batch.events.count() == 1


def test_start_is_refused_when_the_version_was_superseded(
    planner, operator, recipe_author, qa_user, version, unit
):
    from recipes.tests.factories import approved, next_version

    batch = f.batch_order(planner=planner, version=version)
    approved(
        next_version(version.recipe, author=recipe_author), author=recipe_author, reviewer=qa_user
    )

    with pytest.raises(Conflict) as exc:
        services.batch_start(actor=operator, batch=batch, unit=unit)

    assert exc.value.code == "batch_needs_repoint"
    assert exc.value.detail == (
        f"Batch {batch.number} was made on version 1 of RESIN-T, which is superseded; the "
        "current approved version is 2. Re-point the batch to it or cancel the batch (both "
        "signed)."
    )
    batch.refresh_from_db()
    assert (batch.status, batch.unit) == (BatchStatus.CREATED, None)


# --- sequence ---------------------------------------------------------------------------------


def test_a_phase_cannot_start_before_the_earlier_ones(batch, operator):
    with pytest.raises(PhaseOutOfSequence) as exc:
        services.phase_start(actor=operator, phase=f.phase(batch, 3))

    assert exc.value.detail == (
        "Phase UP1/OP2/PH1 cannot start before UP1/OP1/PH1, UP1/OP1/PH2 is completed."
    )
    assert f.phase(batch, 3).status == PhaseStatus.PENDING


def test_a_parallel_phase_starts_while_the_previous_is_active(batch, operator):
    services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.phase_start(actor=operator, phase=f.phase(batch, 2))

    assert list(batch.phases.values_list("status", flat=True)) == [
        "active",
        "active",
        "pending",
        "pending",
    ]


# --- values -----------------------------------------------------------------------------------


def test_value_within_limits_is_recorded_without_deviation(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    value = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24.5"
    )

    assert (value.value_text, value.value_number, value.is_out_of_limit) == (
        "24.5",
        Decimal("24.5"),
        False,
    )
    assert value.limit_text == "15 … 35"
    assert _deviation_titles(batch) == []


def test_value_out_of_limits_is_kept_flagged_and_opens_a_deviation(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    value = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="41"
    )

    assert value.is_out_of_limit is True
    assert _deviation_titles(batch) == [f"{batch.number}: Charge temperature out of limits"]
    deviation = Deviation.objects.get(source_ref=batch.number)
    assert "in phase UP1/OP1/PH1 Charge monomer" in deviation.description
    assert deviation.source_url == f"/batches/{batch.pk}/"
    assert BatchEvent.objects.filter(batch=batch, type=BatchEventType.DEVIATION_OPENED).count() == 1


def test_a_non_number_is_refused_and_nothing_written(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    with pytest.raises(InvalidInput) as exc:
        services.parameter_value_record(
            actor=operator, phase=ph, name="Charge temperature", value="warm"
        )

    assert exc.value.detail == "Charge temperature needs a number, not 'warm'."
    assert ParameterValue.objects.count() == 0


def test_a_second_entry_is_refused_a_correction_supersedes(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )
    with pytest.raises(Conflict) as exc:
        services.parameter_value_record(
            actor=operator, phase=ph, name="Charge temperature", value="25"
        )
    assert exc.value.code == "value_already_recorded"

    corrected = services.parameter_value_correct(
        actor=operator, value=first, new_value="26", reason="typing error"
    )

    assert corrected.supersedes == first
    assert corrected.reason == "typing error"
    assert list(ParameterValue.objects.order_by("id").values_list("value_text", flat=True)) == [
        "24",
        "26",
    ]
    with pytest.raises(Conflict) as exc2:
        services.parameter_value_correct(actor=operator, value=first, new_value="27", reason="x")
    assert exc2.value.code == "value_superseded"
    assert ParameterValue.objects.count() == 2


def test_a_correction_without_reason_is_refused(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )

    with pytest.raises(InvalidInput) as exc:
        services.parameter_value_correct(actor=operator, value=first, new_value="26", reason=" ")

    assert exc.value.detail == "A correction needs a reason."
    assert ParameterValue.objects.count() == 1


# --- dispensing -------------------------------------------------------------------------------


def test_dispense_consumes_a_released_lot(batch, operator, qa_user):
    lot = f.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    use = services.material_dispense(actor=operator, phase=ph, lot=lot, quantity="800")

    lot.refresh_from_db()
    assert lot.quantity == Decimal("200")
    assert use.consumption.type == "lot.consumed"
    assert use.consumption.context_ref == f"{batch.number}/UP1/OP1/PH1"


def test_dispense_of_a_quarantined_lot_is_refused_and_nothing_written(batch, operator, version):
    lot = received_lot(material=Material.objects.get(code="RM-MONO"), quantity="1000")
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    with pytest.raises(DomainError) as exc:
        services.material_dispense(actor=operator, phase=ph, lot=lot, quantity="800")

    assert "quarantine" in exc.value.detail.lower()
    assert MaterialUse.objects.count() == 0
    assert Lot.objects.get(pk=lot.pk).quantity == Decimal("1000")


def test_dispense_of_a_material_not_in_the_phase_is_refused(batch, operator, qa_user):
    lot = f.released_lot(material="RM-SOLV", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    with pytest.raises(InvalidInput) as exc:
        services.material_dispense(actor=operator, phase=ph, lot=lot, quantity="800")

    assert exc.value.detail == "RM-SOLV is not an input of phase UP1/OP1/PH1 Charge monomer."
    assert MaterialUse.objects.count() == 0
    assert LotEvent.objects.filter(lot=lot, type="consumed").count() == 0


def test_completion_with_a_tolerance_miss_opens_a_deviation(batch, operator, qa_user):
    lot = f.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")
    services.material_dispense(actor=operator, phase=ph, lot=lot, quantity="790")

    done = _close_phase(ph, operator)

    assert done.status == PhaseStatus.COMPLETED
    assert _deviation_titles(batch) == [f"{batch.number}: RM-MONO dispensing outside tolerance"]
    assert "790 kg dispensed, target 800 kg (tolerance 796 … 804)" in (
        Deviation.objects.get(source_ref=batch.number).description
    )


# --- completion -------------------------------------------------------------------------------


def test_completion_needs_the_values_and_writes_nothing(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    with pytest.raises(BatchIncomplete) as exc:
        _close_phase(ph, operator)

    assert exc.value.detail == "Record Charge temperature before completing UP1/OP1/PH1."
    assert f.phase(batch, 1).status == PhaseStatus.ACTIVE
    assert not Signature.objects.filter(meaning="performed").exists()


def test_completion_is_signed_performed_and_a_second_completion_is_refused(
    batch, operator, operator2, qa_user
):
    lot = f.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")
    services.material_dispense(actor=operator, phase=ph, lot=lot, quantity="800")
    _close_phase(ph, operator)

    with pytest.raises(PhaseNotActive) as exc:
        _close_phase(ph, operator2)

    assert exc.value.status_code == 409
    assert exc.value.detail.startswith(
        f"Phase UP1/OP1/PH1 Charge monomer is completed by {operator.username} at "
    )
    assert _signatures(ph) == [("performed", operator.pk)]
    assert _deviation_titles(batch) == []


def test_hold_time_breach_opens_a_deviation(batch, operator, qa_user):
    _finish_charge(batch, operator, qa_user, start=True)
    ph = services.phase_start(
        actor=operator, phase=f.phase(batch, 3), at=timezone.now() - timedelta(minutes=10)
    )
    _react_values(ph, operator)

    _close_phase(ph, operator)

    assert _deviation_titles(batch) == [f"{batch.number}: hold time breached"]
    description = Deviation.objects.get(source_ref=batch.number).description
    assert description.startswith("Hold time 10")
    assert " min is outside 120 … 240 min in phase UP1/OP2/PH1 React hold" in description


def test_a_person_cannot_backdate(batch, operator):
    from mes.audit.context import acting_as

    with acting_as(operator), pytest.raises(InvalidInput) as exc:
        services.phase_start(
            actor=operator, phase=f.phase(batch, 1), at=timezone.now() - timedelta(hours=1)
        )

    assert exc.value.code == "time_not_allowed"
    assert f.phase(batch, 1).status == PhaseStatus.PENDING


def test_instrument_is_required_where_the_recipe_says_so(batch, operator, qa_user):
    _finish_charge(batch, operator, qa_user, start=True)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 3))

    with pytest.raises(InvalidInput) as exc:
        services.parameter_value_record(actor=operator, phase=ph, name="Temperature", value="85")

    assert exc.value.code == "instrument_required"
    assert ParameterValue.objects.filter(phase=ph).count() == 0


def test_verification_needs_a_second_person(batch, operator, operator2, qa_user):
    _finish_charge(batch, operator, qa_user, start=True)
    ph = services.phase_start(
        actor=operator, phase=f.phase(batch, 3), at=timezone.now() - timedelta(minutes=150)
    )
    _react_values(ph, operator)
    _close_phase(ph, operator)

    with pytest.raises(SignatureRefused):
        services.phase_verify(actor=operator, phase=ph, signer=f.signer_for(operator))
    assert f.phase(batch, 3).verified_at is None

    services.phase_verify(actor=operator2, phase=ph, signer=f.signer_for(operator2))

    verified = f.phase(batch, 3)
    assert verified.verified_by == operator2
    assert _signatures(ph) == [("performed", operator.pk), ("verified", operator2.pk)]


# --- the whole record -------------------------------------------------------------------------


def _finish_charge(batch: BatchOrder, operator: Any, qa: Any, *, start: bool = False) -> None:
    mono = f.released_lot(material="RM-MONO", quantity="1000", qa=qa)
    solv = f.released_lot(material="RM-SOLV", quantity="1500", qa=qa)
    p1, p2 = f.phase(batch, 1), f.phase(batch, 2)
    if start:
        p1 = services.phase_start(actor=operator, phase=p1)
        p2 = services.phase_start(actor=operator, phase=p2)
    services.parameter_value_record(actor=operator, phase=p1, name="Charge temperature", value="25")
    services.material_dispense(actor=operator, phase=p1, lot=mono, quantity="800")
    services.material_dispense(actor=operator, phase=p2, lot=solv, quantity="1200")
    _close_phase(p1, operator)
    _close_phase(p2, operator)


def _react_values(ph: PhaseExecution, operator: Any) -> None:
    init = f.released_lot(material="RM-INIT", quantity="50", qa=_qa_of())
    services.parameter_value_record(
        actor=operator, phase=ph, name="Temperature", value="85", instrument=f.probe()
    )
    services.parameter_value_record(actor=operator, phase=ph, name="Appearance", value="clear")
    services.material_dispense(actor=operator, phase=ph, lot=init, quantity="10")


def _qa_of() -> Any:
    from mes.accounts.models import User

    return User.objects.get(username="spec.approver")


def run_batch(
    batch: BatchOrder,
    operator: Any,
    operator2: Any,
    qa: Any,
    *,
    yield_qty: str,
    results: dict[str, Any] | None = PASSING,
) -> None:
    _finish_charge(batch, operator, qa, start=True)
    ph3 = services.phase_start(
        actor=operator, phase=f.phase(batch, 3), at=timezone.now() - timedelta(minutes=150)
    )
    _react_values(ph3, operator)
    _close_phase(ph3, operator)
    services.phase_verify(actor=operator2, phase=ph3, signer=f.signer_for(operator2))
    ph4 = services.phase_start(actor=operator, phase=f.phase(batch, 4))
    aid = f.released_lot(material="RM-AID", quantity="20", qa=qa)
    services.material_dispense(actor=operator, phase=ph4, lot=aid, quantity="5")
    _close_phase(ph4, operator)
    services.batch_record_yield(actor=operator, batch=batch, quantity=yield_qty)
    if results is not None:
        f.output_lot_results(batch, qa=qa, values=results)


def test_full_record_completed_and_released(batch, operator, operator2, qa_user, unit):
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    services.batch_complete(actor=operator, batch=batch)

    released = services.batch_release(
        actor=qa_user, batch=batch, signer=f.signer_for(qa_user), reason="record reviewed"
    )

    assert released.status == BatchStatus.RELEASED
    lot = released.output_lot
    assert (lot.material.code, lot.quantity, lot.status) == (
        "RESIN-T",
        Decimal("1950"),
        "released",
    )
    y = batch.yields.get()
    assert (y.yield_pct, y.is_within_range) == (Decimal("99.490"), True)
    unit.refresh_from_db()
    assert unit.status != "in_use"
    assert _signatures(batch) == [("released", qa_user.pk)]
    assert list(batch.events.values_list("type", flat=True))[-3:] == [
        BatchEventType.COMPLETED,
        BatchEventType.RELEASED,
        BatchEventType.LOT_RELEASED,
    ]


def test_release_is_refused_while_a_deviation_is_open(batch, operator, operator2, qa_user):
    run_batch(batch, operator, operator2, qa_user, yield_qty="1500")
    services.batch_complete(actor=operator, batch=batch)
    assert _deviation_titles(batch) == [f"{batch.number}: yield outside range"]

    with pytest.raises(BatchNotReleasable) as exc:
        services.batch_release(actor=qa_user, batch=batch, signer=f.signer_for(qa_user))

    assert exc.value.detail.startswith(f"Batch {batch.number} has 1 open deviation(s) (")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED
    assert _signatures(batch) == []


def test_completion_is_refused_while_phases_are_open(batch, operator):
    with pytest.raises(BatchIncomplete) as exc:
        services.batch_complete(actor=operator, batch=batch)

    assert "UP1/OP1/PH1 Charge monomer is pending." in exc.value.detail
    assert "The yield is not recorded." in exc.value.detail
    batch.refresh_from_db()
    assert batch.status == BatchStatus.STARTED


def test_operator_cannot_release(batch, operator):
    with pytest.raises(NotAuthorized):
        services.batch_release(actor=operator, batch=batch, signer=f.signer_for(operator))
    assert BatchOrder.objects.get(pk=batch.pk).status == BatchStatus.STARTED
