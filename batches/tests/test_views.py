from decimal import Decimal

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import services
from batches.choices import PhaseStatus
from batches.models import ParameterValue
from batches.tests import factories as f
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def terminal(client, operator, batch):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    client.force_login(operator)
    return client


def test_operator_outside_the_area_does_not_see_the_batch(client, operator, batch):
    client.force_login(operator)

    assert client.get(reverse("batches:batch_detail", args=[batch.pk])).status_code == 404
    assert batch.number not in client.get(reverse("batches:batch_list")).content.decode()


def test_batch_page_lists_the_phases(terminal, batch):
    page = terminal.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()

    assert f"Batch {batch.number}" in page
    assert 'data-phase="UP1/OP2/PH1"' in page
    assert "UP1/OP1/PH1 is pending." not in page  # problems are listed by name with the phase
    assert "Charge monomer is pending." in page


def test_terminal_records_a_value_and_shows_a_refusal(terminal, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    url = reverse("batches:phase_value", args=[batch.pk, ph.pk])

    ok = terminal.post(url, {"name": "Charge temperature", "value": "24"}, follow=True)
    refused = terminal.post(url, {"name": "Charge temperature", "value": "25"}, follow=True)

    assert "Charge temperature recorded." in ok.content.decode()
    assert "already recorded in UP1/OP1/PH1" in refused.content.decode()
    assert list(ParameterValue.objects.values_list("value_text", flat=True)) == ["24"]


def test_terminal_correction_marks_the_value(terminal, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )

    page = terminal.post(
        reverse("batches:phase_correct", args=[batch.pk, ph.pk]),
        {"value_id": first.pk, "value": "26", "reason": "misread"},
        follow=True,
    ).content.decode()

    assert "<strong>26 †</strong>" in page
    assert "<s>24</s>" in page
    assert "† misread" in page


def test_completion_with_a_wrong_password_is_refused_and_nothing_signed(terminal, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="24")
    url = reverse("batches:phase_complete", args=[batch.pk, ph.pk])

    page = terminal.post(
        url, {"username": operator.username, "password": "wrong", "reason": ""}, follow=True
    )

    assert page.status_code == 200
    assert f.phase(batch, 1).status == PhaseStatus.ACTIVE
    assert not Signature.objects.filter(meaning="performed").exists()

    terminal.post(url, {"username": operator.username, "password": DEFAULT_PASSWORD, "reason": ""})

    assert f.phase(batch, 1).status == PhaseStatus.COMPLETED
    assert Signature.objects.filter(meaning="performed").count() == 1


def test_terminal_dispenses_a_scanned_lot(terminal, batch, operator, qa_user):
    lot = f.released_lot(material="RM-MONO", quantity="1000", qa=qa_user)
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    page = terminal.post(
        reverse("batches:phase_dispense", args=[batch.pk, ph.pk]),
        {"lot": lot.lot_number, "material": lot.material_id, "quantity": "800"},
        follow=True,
    ).content.decode()

    assert f"800 dispensed from {lot.lot_number}." in page
    assert ph.uses.get().quantity == Decimal("800")


def test_create_page_for_a_planner(client, planner, version):
    client.force_login(planner)

    response = client.post(
        reverse("batches:batch_create"),
        {"recipe_version": version.pk, "batch_size": "2500", "number": "B-77"},
    )

    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert "Batch B-77" in detail
    assert "2500 kg" in detail


def test_qa_releases_on_the_batch_page(client, qa_user, batch, operator, operator2):
    from batches.tests.test_services import run_batch

    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    services.batch_complete(actor=operator, batch=batch)
    client.force_login(qa_user)
    url = reverse("batches:batch_detail", args=[batch.pk])
    assert "Release batch record" in client.get(url).content.decode()

    page = client.post(
        reverse("batches:batch_release", args=[batch.pk]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "reviewed"},
        follow=True,
    ).content.decode()

    assert f"Batch record {batch.number} released." in page
    assert 'data-testid="batch-status">Released<' in page
    batch.refresh_from_db()
    assert [s.signer for s in signatures_for_record(batch)] == [qa_user]
    assert batch.status == "released"
