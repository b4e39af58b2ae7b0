"""QA's batch release e-signature also releases the output lot through quality: same signer,
one transaction, quality's refusal refuses the batch release and leaves nothing written, and
`quality.signals.lot_released` goes out after commit exactly as from quality's own page."""

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType

from batches import services
from batches.choices import BatchEventType, BatchStatus
from batches.models import BatchOrder
from batches.tests import factories as f
from batches.tests.test_services import run_batch
from genealogy.models import Lot
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from quality import services as quality_services
from quality.exceptions import LotNotReleasable
from quality.models import LotDisposition
from quality.signals import lot_released
from quality.tests.factories import FAILING_ASSAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def released_lots() -> Any:
    """The lot ids `lot_released` announced (what mixed mode's handoff receives)."""
    received: list[int] = []

    def receiver(sender: Any, lot_id: int, **kwargs: Any) -> None:
        received.append(lot_id)

    lot_released.connect(receiver, dispatch_uid="test-batches-lot-released")
    yield received
    lot_released.disconnect(dispatch_uid="test-batches-lot-released")


def _signatures(record: Any) -> list[tuple[str, int]]:
    return list(
        Signature.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=str(record.pk)
        )
        .order_by("id")
        .values_list("meaning", "signer")
    )


def _completed(batch, operator, operator2, qa_user, **kw) -> BatchOrder:
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950", **kw)
    return services.batch_complete(actor=operator, batch=batch)


def test_the_batch_release_signature_releases_the_output_lot(
    batch, operator, operator2, qa_user, released_lots, django_capture_on_commit_callbacks
):
    batch = _completed(batch, operator, operator2, qa_user)
    lot = Lot.objects.get(pk=batch.output_lot_id)
    assert lot.status == "quarantine"

    with django_capture_on_commit_callbacks(execute=True):
        services.batch_release(
            actor=qa_user, batch=batch, signer=f.signer_for(qa_user), reason="reviewed"
        )

    lot.refresh_from_db()
    assert lot.status == "released"
    disposition = LotDisposition.objects.get(lot=lot)
    assert (disposition.decision, disposition.decided_by) == ("released", qa_user)
    assert disposition.reason == f"batch record {batch.number} released: reviewed"
    assert _signatures(disposition) == [("released", qa_user.pk)]
    assert _signatures(batch) == [("released", qa_user.pk)]
    assert released_lots == [lot.pk]
    event = batch.events.get(type=BatchEventType.LOT_RELEASED)
    assert event.data == {"lot": lot.lot_number, "disposition_id": disposition.pk}


def test_quality_refusing_the_lot_refuses_the_batch_release_and_writes_nothing(
    batch, operator, operator2, qa_user, released_lots, django_capture_on_commit_callbacks
):
    batch = _completed(batch, operator, operator2, qa_user, results=FAILING_ASSAY)
    events_before = batch.events.count()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(LotNotReleasable) as exc,
    ):
        services.batch_release(actor=qa_user, batch=batch, signer=f.signer_for(qa_user))

    lot = Lot.objects.get(pk=batch.output_lot_id)
    assert exc.value.detail.startswith(
        f"Batch {batch.number} cannot be released: its output lot {lot.lot_number} cannot be "
        "released: "
    )
    assert exc.value.status_code == 409
    batch.refresh_from_db()
    assert (batch.status, batch.released_at) == (BatchStatus.COMPLETED, None)
    assert lot.status == "quarantine"
    assert _signatures(batch) == []
    assert not LotDisposition.objects.filter(lot=lot).exists()
    assert batch.events.count() == events_before
    assert callbacks == []
    assert released_lots == []


def test_an_output_lot_released_on_quality_page_is_not_released_twice(
    batch, operator, operator2, qa_user, released_lots, django_capture_on_commit_callbacks
):
    batch = _completed(batch, operator, operator2, qa_user)
    lot = Lot.objects.get(pk=batch.output_lot_id)
    quality_services.lot_release(actor=qa_user, lot=lot, signer=f.signer_for(qa_user))

    with django_capture_on_commit_callbacks(execute=True):
        services.batch_release(actor=qa_user, batch=batch, signer=f.signer_for(qa_user))

    assert LotDisposition.objects.filter(lot=lot).count() == 1
    assert BatchOrder.objects.get(pk=batch.pk).status == BatchStatus.RELEASED
    assert not batch.events.filter(type=BatchEventType.LOT_RELEASED).exists()
    assert released_lots == []


def test_api_release_refused_by_quality_is_a_409_with_the_reason(
    api_client, batch, operator, operator2, qa_user
):
    batch = _completed(batch, operator, operator2, qa_user, results=FAILING_ASSAY)
    api_client.force_authenticate(qa_user)

    response = api_client.post(
        f"/api/v1/batches/orders/{batch.pk}/release/",
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "x"},
        format="json",
    )

    assert response.status_code == 409
    body = response.json()
    assert "its output lot" in body["detail"]
    assert body["code"] == "failing_results"
    assert BatchOrder.objects.get(pk=batch.pk).status == BatchStatus.COMPLETED
