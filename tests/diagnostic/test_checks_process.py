"""The process checklist items flip with the installation: batches run on the approved
version or not, records signed in the system or on paper, deviations closed before release
or not; the recall-scope timing; cleaning before use."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from batches import services as batch_services
from batches.tests import factories as bf
from batches.tests.test_services import run_batch
from genealogy import services as genealogy
from genealogy.tests.factories import MaterialFactory, produced_lot, received_lot
from mes.diagnostic.services import assessment_run
from mes.diagnostic.tests.factories import item, period, symptom
from quality import services as quality
from recipes.tests.factories import approved, next_version
from tests.diagnostic.factories import paper_batch
from workorders.tests.factories import released

pytestmark = pytest.mark.django_db


def _released_batch(batch, operator, operator2, qa):
    run_batch(batch, operator, operator2, qa, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)
    return batch_services.batch_release(
        actor=qa, batch=batch, signer=bf.signer_for(qa), reason="reviewed"
    )


def test_a_clean_batch_record_passes_the_process_items(batch, operator, operator2, qa_user):
    _released_batch(batch, operator, operator2, qa_user)

    a = assessment_run(actor=qa_user, period=period())

    assert item(a, "batches.approved_versions_only")["status"] == "pass"
    assert item(a, "batches.records_complete")["status"] == "pass"
    assert item(a, "batches.records_complete")["measured"]["phases"] == 4
    assert item(a, "batches.deviations_closed_before_release")["status"] == "pass"
    assert item(a, "equipment.cleaning_before_use")["status"] == "pass"
    assert symptom(a, "old_recipe_versions") == "not_present"
    assert symptom(a, "paper_batch_records") == "not_present"


def test_a_batch_completed_after_its_version_was_superseded_shows_old_versions_in_use(
    batch, operator, operator2, qa_user, recipe_author, version
):
    approved(
        next_version(version.recipe, author=recipe_author), author=recipe_author, reviewer=qa_user
    )
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    batch_services.batch_complete(actor=operator, batch=batch)

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "batches.approved_versions_only")
    assert (found["status"], found["measured"]["superseded_while_running"]) == ("warning", 1)
    assert symptom(a, "old_recipe_versions") == "present"


def test_a_batch_started_on_a_superseded_version_fails(qa_user, planner, recipe_author, version):
    approved(
        next_version(version.recipe, author=recipe_author), author=recipe_author, reviewer=qa_user
    )
    paper_batch(
        version=version,
        created_by=planner,
        status="started",
        started_at=timezone.now(),
        completed_at=None,
    )

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "batches.approved_versions_only")
    assert (found["status"], found["measured"]["not_approved"]) == ("fail", 1)
    assert found["evidence"][3]["label"] == "Not approved at start"
    assert symptom(a, "old_recipe_versions") == "present"


def test_a_batch_record_completed_on_paper_shows_paper_batch_records(qa_user, planner, version):
    paper_batch(version=version, created_by=planner, phases=3)

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "batches.records_complete")
    assert found["status"] == "fail"
    assert (found["measured"]["unsigned_phases"], found["measured"]["unverified_phases"]) == (3, 3)
    assert symptom(a, "paper_batch_records") == "present"


def test_a_batch_released_while_its_deviation_was_open_fails(qa_user, planner, version):
    batch = paper_batch(
        version=version,
        created_by=planner,
        status="released",
        released_at=timezone.now() - timedelta(minutes=10),
    )
    quality.deviation_open(
        actor=get_user_model().objects.get(username="system"),
        title="Yield outside range",
        description="still under investigation",
        source={"kind": "batch", "ref": batch.number, "url": "/batches/"},
    )

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "batches.deviations_closed_before_release")
    assert (found["status"], found["measured"]["open_at_release"]) == ("fail", 1)


def test_recall_scope_is_timed_on_the_most_used_raw_material_lot(qa_user, supervisor):
    monomer = MaterialFactory(code="RM-M1")
    busy = released(received_lot(material=monomer, quantity=100, lot_number="M-BUSY"), supervisor)
    idle = released(received_lot(material=monomer, quantity=100, lot_number="M-IDLE"), supervisor)
    produced_lot(inputs=[(busy, 10)])
    produced_lot(inputs=[(busy, 10), (idle, 5)])

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "genealogy.recall_in_minutes")
    assert found["status"] == "pass"
    assert found["evidence"][0]["value"] == "RM-M1 lot M-BUSY"
    assert found["measured"]["affected"] == 3
    assert symptom(a, "slow_lot_recall") == "not_present"


def test_a_consumption_not_linked_into_a_product_is_a_recall_warning(qa_user, supervisor):
    monomer = MaterialFactory(code="RM-M2")
    lot = released(received_lot(material=monomer, quantity=100, lot_number="M-LOOSE"), supervisor)
    genealogy.lot_consume(
        actor=supervisor, lot=lot, quantity=20, context={"kind": "batch_phase", "ref": "B-9/1"}
    )

    a = assessment_run(actor=qa_user, period=period())

    found = item(a, "genealogy.recall_in_minutes")
    assert (found["status"], found["measured"]["unlinked_consumptions"]) == ("warning", 1)
    assert symptom(a, "slow_lot_recall") == "present"


def test_nothing_in_the_period_leaves_the_process_symptoms_not_evaluated(qa_user):
    a = assessment_run(actor=qa_user, period=period())

    assert item(a, "batches.records_complete")["status"] == "not_applicable"
    assert symptom(a, "paper_batch_records") == "not_evaluated"
    assert symptom(a, "slow_lot_recall") == "not_evaluated"
