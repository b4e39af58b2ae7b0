"""Two terminals completing the same phase at the same moment (PostgreSQL row locks)."""

import pytest
from django.contrib.contenttypes.models import ContentType

from batches import services
from batches.choices import BatchEventType, PhaseStatus
from batches.models import BatchEvent, PhaseExecution
from batches.tests import factories as f
from mes.esign.models import Signature
from mes.exceptions import DomainError
from mes.testing import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_terminals_completing_a_phase_at_once_complete_it_once(
    planner, operator, operator2, supervisor, recipe_author, qa_user
):
    version = f.recipe(author=recipe_author, reviewer=qa_user)
    unit = f.reactor(cleaned_by=operator, verified_by=supervisor)
    batch = f.started_batch(planner=planner, operator=operator, version=version, unit=unit)
    lot = f.released_lot(material="RM-SOLV", quantity="1500", qa=qa_user)
    services.phase_start(actor=operator, phase=f.phase(batch, 1))
    phase = services.phase_start(actor=operator, phase=f.phase(batch, 2))
    services.material_dispense(actor=operator, phase=phase, lot=lot, quantity="1200")
    signers = {u.pk: f.signer_for(u) for u in (operator, operator2)}

    results = race(
        *[
            (
                lambda u=u: services.phase_complete(
                    actor=u, phase=PhaseExecution.objects.get(pk=phase.pk), signer=signers[u.pk]
                )
            )
            for u in (operator, operator2)
        ]
    )

    refused = [r for r in results if isinstance(r, DomainError)]
    won = [r for r in results if isinstance(r, PhaseExecution)]
    assert len(won) == 1
    assert len(refused) == 1
    assert refused[0].status_code == 409
    assert refused[0].code == "phase_not_active"
    winner = won[0].completed_by
    assert refused[0].detail.startswith(
        f"Phase UP1/OP1/PH2 Charge solvent is completed by {winner.username} at "
    )
    phase.refresh_from_db()
    assert phase.status == PhaseStatus.COMPLETED
    assert phase.completed_by == winner
    assert (
        Signature.objects.filter(
            content_type=ContentType.objects.get_for_model(PhaseExecution),
            object_id=str(phase.pk),
            meaning="performed",
        ).count()
        == 1
    )
    assert BatchEvent.objects.filter(phase=phase, type=BatchEventType.PHASE_COMPLETED).count() == 1
