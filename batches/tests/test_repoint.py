"""A batch not yet started whose recipe version was superseded: flagged on the signal, cannot
start on the old version, re-pointed (signed) to the current approved version with the same
batch size, or cancelled (signed)."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import services
from batches.choices import BatchEventType, BatchStatus
from batches.models import BatchOrder, BatchRepoint
from batches.tests import factories as f
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.hashing import record_content_hash
from mes.esign.models import Signature
from mes.exceptions import Conflict, InvalidInput, NotAuthorized
from recipes import services as recipe_services
from recipes.exceptions import BatchSizeOutOfRange
from recipes.tests.factories import approved, next_version

pytestmark = pytest.mark.django_db


def _supersede(version, author, reviewer, capture, **header):
    """Approve version N+1 (its header changed by `header`); the on-commit signals run."""
    draft = next_version(version.recipe, author=author)
    if header:
        draft = recipe_services.recipe_version_update(actor=author, version=draft, changes=header)
    with capture(execute=True):
        return approved(draft, author=author, reviewer=reviewer)


def _signatures(record):
    return list(
        Signature.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=str(record.pk)
        ).values_list("meaning", "signer")
    )


def test_superseding_flags_the_batches_not_yet_started(
    planner, operator, recipe_author, qa_user, version, unit, django_capture_on_commit_callbacks
):
    waiting = f.batch_order(planner=planner, version=version, number="B-WAIT")
    running = f.started_batch(
        planner=planner, operator=operator, version=version, unit=unit, number="B-RUN"
    )

    v2 = _supersede(version, recipe_author, qa_user, django_capture_on_commit_callbacks)

    waiting.refresh_from_db()
    running.refresh_from_db()
    assert waiting.needs_repoint is True
    assert waiting.superseded_by_version == v2
    assert waiting.version_superseded_at is not None
    assert running.version_superseded_at is None
    event = waiting.events.get(type=BatchEventType.VERSION_SUPERSEDED)
    assert event.data == {"version_id": version.pk, "superseded_by_id": v2.pk, "superseded_by": 2}
    assert not running.events.filter(type=BatchEventType.VERSION_SUPERSEDED).exists()


def test_repoint_moves_the_batch_to_the_current_version_signed(
    planner,
    supervisor,
    operator,
    recipe_author,
    qa_user,
    version,
    unit,
    django_capture_on_commit_callbacks,
):
    batch = f.batch_order(planner=planner, version=version, batch_size="2000")
    old_hash = batch.control_recipe_hash
    v2 = _supersede(version, recipe_author, qa_user, django_capture_on_commit_callbacks)

    batch = services.batch_repoint(
        actor=supervisor,
        batch=BatchOrder.objects.get(pk=batch.pk),
        signer=f.signer_for(supervisor),
        reason="version 2 approved",
    )

    batch.refresh_from_db()
    assert (batch.recipe_version, batch.needs_repoint, batch.batch_size) == (
        v2,
        False,
        Decimal("2000"),
    )
    assert batch.control_recipe["version"]["number"] == 2
    assert batch.control_recipe_hash == services.snapshot_hash(batch.control_recipe)
    assert batch.control_recipe_hash != old_hash
    assert list(batch.phases.order_by("sequence").values_list("path", flat=True)) == [
        p["path"]
        for up in batch.control_recipe["unit_procedures"]
        for op in up["operations"]
        for p in op["phases"]
    ]
    assert all(p.definition["path"] == p.path for p in batch.phases.all())
    repoint = BatchRepoint.objects.get(batch=batch)
    assert (repoint.from_version, repoint.to_version, repoint.repointed_by) == (
        version,
        v2,
        supervisor,
    )
    assert (repoint.from_control_recipe_hash, repoint.to_control_recipe_hash) == (
        old_hash,
        batch.control_recipe_hash,
    )
    assert _signatures(repoint) == [("approved", supervisor.pk)]
    signature = Signature.objects.get(
        content_type=ContentType.objects.get_for_model(repoint), object_id=str(repoint.pk)
    )
    assert signature.record_hash == record_content_hash(repoint)
    assert batch.events.filter(type=BatchEventType.REPOINTED).count() == 1

    started = services.batch_start(actor=operator, batch=batch, unit=unit)

    assert started.status == BatchStatus.STARTED


def test_repoint_refuses_a_size_outside_the_new_range_and_changes_nothing(
    planner, supervisor, recipe_author, qa_user, version, django_capture_on_commit_callbacks
):
    batch = f.batch_order(planner=planner, version=version, batch_size="1200")
    _supersede(
        version,
        recipe_author,
        qa_user,
        django_capture_on_commit_callbacks,
        batch_size_min="2000",
    )
    before = BatchOrder.objects.get(pk=batch.pk)
    phases_before = list(batch.phases.values_list("pk", "path", "definition"))

    with pytest.raises(BatchSizeOutOfRange):
        services.batch_repoint(
            actor=supervisor, batch=batch, signer=f.signer_for(supervisor), reason="v2"
        )

    after = BatchOrder.objects.get(pk=batch.pk)
    assert (after.recipe_version_id, after.control_recipe_hash, after.needs_repoint) == (
        before.recipe_version_id,
        before.control_recipe_hash,
        True,
    )
    assert list(batch.phases.values_list("pk", "path", "definition")) == phases_before
    assert not BatchRepoint.objects.exists()
    assert not Signature.objects.filter(meaning="approved", signer=supervisor).exists()


def test_repoint_refusals(planner, operator, supervisor, version, unit):
    current = f.batch_order(planner=planner, version=version)

    with pytest.raises(Conflict) as exc:
        services.batch_repoint(
            actor=supervisor, batch=current, signer=f.signer_for(supervisor), reason="x"
        )
    assert exc.value.code == "batch_not_outdated"

    with pytest.raises(NotAuthorized):
        services.batch_repoint(
            actor=operator, batch=current, signer=f.signer_for(operator), reason="x"
        )

    with pytest.raises(InvalidInput) as exc:
        services.batch_repoint(
            actor=supervisor, batch=current, signer=f.signer_for(supervisor), reason=" "
        )
    assert exc.value.code == "reason_required"
    assert not BatchRepoint.objects.exists()


def test_cancel_by_a_person_is_signed(planner, supervisor, version):
    batch = f.batch_order(planner=planner, version=version)

    with pytest.raises(InvalidInput) as exc:
        services.batch_cancel(actor=supervisor, batch=batch, reason="not needed")
    assert exc.value.code == "signature_required"
    assert BatchOrder.objects.get(pk=batch.pk).status == BatchStatus.CREATED

    services.batch_cancel(
        actor=supervisor, batch=batch, reason="not needed", signer=f.signer_for(supervisor)
    )

    batch.refresh_from_db()
    assert (batch.status, batch.cancel_reason) == (BatchStatus.CANCELLED, "not needed")
    assert _signatures(batch) == [("cancelled", supervisor.pk)]


def test_api_shows_the_flag_and_repoints(
    api_client,
    planner,
    supervisor,
    recipe_author,
    qa_user,
    version,
    django_capture_on_commit_callbacks,
):
    batch = f.batch_order(planner=planner, version=version)
    v2 = _supersede(version, recipe_author, qa_user, django_capture_on_commit_callbacks)
    api_client.force_authenticate(supervisor)
    url = f"/api/v1/batches/orders/{batch.pk}/"

    body = api_client.get(url).json()
    assert (body["needs_repoint"], body["superseded_by_version"]) == (True, 2)

    response = api_client.post(
        url + "repoint/",
        {"username": supervisor.username, "password": DEFAULT_PASSWORD, "reason": "v2"},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["needs_repoint"]) == (2, False)
    assert BatchOrder.objects.get(pk=batch.pk).recipe_version == v2
    again = api_client.post(
        url + "repoint/",
        {"username": supervisor.username, "password": DEFAULT_PASSWORD, "reason": "v2"},
        format="json",
    )
    assert (again.status_code, again.json()["code"]) == (409, "batch_not_outdated")


def test_api_cancel_needs_the_signature(api_client, planner, version):
    batch = f.batch_order(planner=planner, version=version)
    api_client.force_authenticate(planner)
    url = f"/api/v1/batches/orders/{batch.pk}/cancel/"

    wrong = api_client.post(
        url, {"username": planner.username, "password": "wrong", "reason": "x"}, format="json"
    )
    ok = api_client.post(
        url,
        {"username": planner.username, "password": DEFAULT_PASSWORD, "reason": "x"},
        format="json",
    )

    assert wrong.status_code == 403
    assert (ok.status_code, ok.json()["status"]) == (200, "cancelled")
    assert _signatures(BatchOrder.objects.get(pk=batch.pk)) == [("cancelled", planner.pk)]


def test_batch_page_and_list_show_the_flag_and_the_repoint_form(
    client, planner, recipe_author, qa_user, version, django_capture_on_commit_callbacks
):
    batch = f.batch_order(planner=planner, version=version, number="B-OLD")
    _supersede(version, recipe_author, qa_user, django_capture_on_commit_callbacks)
    client.force_login(planner)

    listing = client.get(reverse("batches:batch_list")).content.decode()
    page = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()
    done = client.post(
        reverse("batches:batch_repoint", args=[batch.pk]),
        {"username": planner.username, "password": DEFAULT_PASSWORD, "reason": "v2 approved"},
        follow=True,
    ).content.decode()

    assert 'data-testid="needs-repoint"' in listing
    assert 'data-testid="repoint-banner"' in page
    assert 'data-testid="repoint-form"' in page
    assert "Re-point to version 2" in page
    assert "re-pointed to the current approved recipe version" in done
    assert 'data-testid="repoint-banner"' not in done
    assert BatchOrder.objects.get(pk=batch.pk).recipe_version.number == 2


def test_operator_sees_no_repoint_form(
    client,
    operator,
    planner,
    recipe_author,
    qa_user,
    version,
    unit,
    django_capture_on_commit_callbacks,
):
    batch = f.batch_order(planner=planner, version=version)
    _supersede(version, recipe_author, qa_user, django_capture_on_commit_callbacks)
    assign_perm("equipment.operate_in_area", operator, unit.area)
    client.force_login(operator)

    page = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()

    assert 'data-testid="repoint-banner"' in page
    assert 'data-testid="repoint-form"' not in page
