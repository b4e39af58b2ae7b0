"""Deviations and CAPA: opened by hand or by another app's service (source by reference),
classified, investigated, closed by a QA signature; closure refused while a major or critical
deviation has open CAPA actions. Selectors: open for a lot / a source, ageing, overdue."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from genealogy.tests.factories import received_lot
from mes.esign.models import Signature
from mes.esign.selectors import signatures_for_record
from mes.exceptions import InvalidInput, InvalidTransition, NotAuthorized
from quality import selectors, services, signals
from quality.choices import CapaKind, DeviationStatus
from quality.exceptions import DeviationNotClosable
from quality.models import CapaAction, Deviation, DeviationLot, QualityEvent
from quality.tests.factories import sign_as

pytestmark = pytest.mark.django_db

BATCH = {"kind": "batch", "ref": "B-1001", "url": "/batches/17/"}


def written():
    return (
        Deviation.objects.count(),
        Deviation.objects.filter(status=DeviationStatus.CLOSED).count(),
        CapaAction.objects.exclude(status="open").count(),
        CapaAction.objects.count(),
        DeviationLot.objects.count(),
        QualityEvent.objects.count(),
        Signature.objects.count(),
    )


def soon(days=7):
    return timezone.localdate() + timedelta(days=days)


@pytest.fixture
def deviation(operator):
    return services.deviation_open(
        actor=operator,
        title="Temperature excursion in phase 3",
        description="Jacket temperature 92 °C for 4 minutes (limit 90 °C).",
        source=BATCH,
    )


def test_open_from_another_app_with_source_and_lots(operator, django_capture_on_commit_callbacks):
    lot = received_lot(lot_number="L-9")
    heard = []
    signals.deviation_opened.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="d1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            deviation = services.deviation_open(
                actor=operator, title="Spill", description="Spilled 2 kg", source=BATCH, lots=[lot]
            )
    finally:
        signals.deviation_opened.disconnect(dispatch_uid="d1")

    assert deviation.number == f"DEV-{deviation.pk:05d}"
    assert (deviation.status, deviation.classification, deviation.opened_by) == (
        "open",
        "",
        operator,
    )
    assert (deviation.source_kind, deviation.source_ref, deviation.source_url) == (
        "batch",
        "B-1001",
        "/batches/17/",
    )
    assert deviation.due_at == timezone.localdate() + timedelta(days=30)
    assert list(deviation.lots.all()) == [lot]
    assert [kw["deviation_id"] for kw in heard] == [deviation.pk]
    assert list(selectors.deviations_open_for_lot(lot)) == [deviation]
    assert selectors.deviation_open_exists(kind="batch", ref="B-1001") is True
    assert selectors.deviation_open_exists(kind="batch", ref="B-1002") is False


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"kind": "rocket", "ref": "R-1"}, "The source kind 'rocket' is not one of"),
        ({"kind": "batch", "ref": ""}, "The source needs a reference (ref)."),
        (
            {"kind": "batch", "ref": "B-1", "url": "//evil.example/"},
            "The source URL must be a path",
        ),
    ],
)
def test_open_refuses_a_bad_source(operator, source, message):
    before = written()

    with pytest.raises(InvalidInput) as refused:
        services.deviation_open(actor=operator, title="t", description="d", source=source)

    assert refused.value.detail.startswith(message)
    assert written() == before


def test_an_integration_account_without_the_right_cannot_open(integration_user):
    before = written()

    with pytest.raises(NotAuthorized, match=r"open a deviation \(quality.add_deviation\)"):
        services.deviation_open(actor=integration_user, title="t", description="d")

    assert written() == before


def test_classify_and_investigate(deviation, qa_user):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="major")
    services.deviation_investigate(
        actor=qa_user,
        deviation=deviation,
        investigation="Controller tuning drifted.",
        root_cause="PID parameters not under change control.",
    )

    deviation.refresh_from_db()
    assert (deviation.status, deviation.classification, deviation.classified_by) == (
        "investigation",
        "major",
        qa_user,
    )
    assert deviation.root_cause == "PID parameters not under change control."
    assert list(selectors.deviation_events(deviation).values_list("type", flat=True)) == [
        "deviation.opened",
        "deviation.classified",
        "deviation.investigated",
    ]


def test_an_operator_cannot_classify(deviation, operator):
    before = written()

    with pytest.raises(NotAuthorized, match=r"classify deviations \(quality.manage_deviation\)"):
        services.deviation_classify(actor=operator, deviation=deviation, classification="minor")

    assert written() == before


def test_close_refused_before_classification(deviation, qa_user):
    before = written()

    with pytest.raises(DeviationNotClosable) as refused:
        services.deviation_close(
            actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="done"
        )

    assert refused.value.code == "deviation_not_classified"
    assert refused.value.detail == (
        f"{deviation.number} is not classified: classify it (minor, major, critical) first."
    )
    assert written() == before


def test_close_refused_for_a_major_deviation_with_open_capa(deviation, qa_user, supervisor):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="major")
    services.deviation_investigate(
        actor=qa_user, deviation=deviation, investigation="i", root_cause="Worn seal"
    )
    action = services.capa_action_add(
        actor=qa_user,
        deviation=deviation,
        kind=CapaKind.CORRECTIVE,
        description="Replace seals on R-101",
        owner=supervisor,
        due_at=soon(),
    )
    before = written()

    with pytest.raises(DeviationNotClosable) as refused:
        services.deviation_close(
            actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="done"
        )

    assert refused.value.code == "capa_open"
    assert refused.value.detail == (
        f"{deviation.number} is major: its CAPA actions must be completed first; open: "
        f"{action.number} (owner Sam Supervisor, due {soon().isoformat()})."
    )
    assert written() == before


def test_close_refused_for_a_critical_deviation_without_root_cause(deviation, qa_user):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="critical")
    before = written()

    with pytest.raises(DeviationNotClosable) as refused:
        services.deviation_close(
            actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="done"
        )

    assert refused.value.code == "deviation_root_cause_missing"
    assert refused.value.detail == f"{deviation.number} is critical: record its root cause first."
    assert written() == before


def test_major_deviation_closes_once_capa_is_done(
    deviation, qa_user, supervisor, django_capture_on_commit_callbacks
):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="major")
    services.deviation_investigate(
        actor=qa_user, deviation=deviation, investigation="i", root_cause="Worn seal"
    )
    action = services.capa_action_add(
        actor=qa_user,
        deviation=deviation,
        kind=CapaKind.CORRECTIVE,
        description="Replace seals",
        owner=supervisor,
        due_at=soon(),
    )
    services.capa_action_complete(actor=supervisor, action=action, note="Seals replaced, WO 4711")
    heard = []
    signals.deviation_closed.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="d2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            closed = services.deviation_close(
                actor=qa_user,
                deviation=deviation,
                signer=sign_as(qa_user),
                closure_summary="Seals replaced; no product impact.",
            )
    finally:
        signals.deviation_closed.disconnect(dispatch_uid="d2")

    assert (closed.status, closed.closed_by) == ("closed", qa_user)
    [signature] = signatures_for_record(closed)
    assert (signature.meaning, signature.reason, signature.is_valid) == (
        "closed",
        "Seals replaced; no product impact.",
        True,
    )
    assert heard[0]["source_ref"] == "B-1001"
    assert selectors.deviation_open_exists(kind="batch", ref="B-1001") is False


def test_minor_deviation_closes_with_open_capa_which_stays_tracked(deviation, qa_user, supervisor):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="minor")
    action = services.capa_action_add(
        actor=qa_user,
        deviation=deviation,
        kind=CapaKind.PREVENTIVE,
        description="Add alarm",
        owner=supervisor,
        due_at=soon(),
    )

    services.deviation_close(
        actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="Minor"
    )

    action.refresh_from_db()
    assert action.status == "open"
    assert list(selectors.capa_list(actor=qa_user, open_only=True)) == [action]


def test_a_closed_deviation_cannot_be_closed_or_reclassified(deviation, qa_user):
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="minor")
    services.deviation_close(
        actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="ok"
    )
    before = written()

    with pytest.raises(InvalidTransition, match="is closed: it cannot become closed"):
        services.deviation_close(
            actor=qa_user, deviation=deviation, signer=sign_as(qa_user), closure_summary="again"
        )
    with pytest.raises(InvalidTransition, match=re.escape("is closed.")):
        services.deviation_classify(actor=qa_user, deviation=deviation, classification="major")

    assert written() == before


def test_only_the_owner_or_qa_completes_a_capa_action(deviation, qa_user, supervisor, operator):
    action = services.capa_action_add(
        actor=qa_user,
        deviation=deviation,
        kind=CapaKind.CORRECTIVE,
        description="Retrain",
        owner=supervisor,
        due_at=soon(),
    )
    before = written()

    with pytest.raises(NotAuthorized, match="Only the owner of the CAPA action or QA"):
        services.capa_action_complete(actor=operator, action=action, note="done")

    assert written() == before


def test_capa_due_in_the_past_is_refused(deviation, qa_user, supervisor):
    before = written()

    with pytest.raises(InvalidInput, match="cannot be in the past"):
        services.capa_action_add(
            actor=qa_user,
            deviation=deviation,
            kind=CapaKind.CORRECTIVE,
            description="x",
            owner=supervisor,
            due_at=timezone.localdate() - timedelta(days=1),
        )

    assert written() == before


def test_ageing_and_overdue(qa_user, supervisor):
    today = timezone.localdate()
    fresh = services.deviation_open(actor=qa_user, title="fresh", description="d")
    old = services.deviation_open(actor=qa_user, title="old", description="d")
    action = services.capa_action_add(
        actor=qa_user,
        deviation=old,
        kind=CapaKind.CORRECTIVE,
        description="x",
        owner=supervisor,
        due_at=today,
    )

    later = today + timedelta(days=40)
    buckets = selectors.deviation_ageing(actor=qa_user, on=later)

    assert [(b.label, b.count) for b in buckets] == [
        ("0–7 days", 0),
        ("8–30 days", 0),
        ("31–90 days", 2),
        ("over 90 days", 0),
    ]
    assert list(selectors.deviations_overdue(actor=qa_user, on=later)) == [fresh, old]
    assert list(selectors.capa_overdue(actor=qa_user, on=today + timedelta(days=1))) == [action]
    assert list(selectors.capa_overdue(actor=qa_user, on=today)) == []
    assert list(selectors.deviations_overdue(actor=qa_user, on=today)) == []
