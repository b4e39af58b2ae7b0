"""Capture (P11-E-03, P11-E-04, A11-12c): every write path to a GMP table leaves exactly one
audit event with old and new values, attributed; writes without a user are refused. These
run on both databases (PostgreSQL: the authoritative trigger; SQLite: the demo triggers)."""

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Concat

from mes.accounts.models import SecurityEvent, User
from mes.accounts.tests.factories import UserFactory
from mes.audit import registry
from mes.audit.context import acting_as, audit_context
from mes.audit.install import install
from mes.audit.models import AuditEvent
from mes.audit.testing import without_audit_context
from mes.audit.tests.factories import GroupFactory, SecurityEventFactory

pytestmark = pytest.mark.django_db


def test_insert_gives_one_event_with_the_new_row(qa_user, trail):
    with acting_as(qa_user, reason="new review team"):
        group = GroupFactory(name="Reviewers B")

    [event] = trail("auth_group")
    assert event.action == "INSERT"
    assert event.record_pk == str(group.pk)
    assert event.old_values is None
    assert event.new_values == {"id": group.pk, "name": "Reviewers B"}
    assert (event.user_id, event.user_name, event.roles) == (
        qa_user.pk,
        "quinn.qa",
        ["QA Reviewer"],
    )
    assert event.reason == "new review team"


def test_update_records_only_the_changed_fields_old_and_new(trail):
    group = GroupFactory(name="Night shift")
    group.name = "Night shift B"
    group.save()

    insert, update = trail("auth_group")
    assert (insert.action, update.action) == ("INSERT", "UPDATE")
    assert update.old_values == {"name": "Night shift"}
    assert update.new_values == {"name": "Night shift B"}
    assert update.user_name == "system:pytest"


def test_delete_gives_one_event_with_the_old_row(trail):
    group = GroupFactory(name="Temporary")
    pk = group.pk
    group.delete()

    events = trail("auth_group")
    assert [e.action for e in events] == ["INSERT", "DELETE"]
    assert events[1].record_pk == str(pk)
    assert events[1].old_values == {"id": pk, "name": "Temporary"}
    assert events[1].new_values is None


def test_a_no_op_update_records_nothing(trail):
    group = GroupFactory(name="Unchanged")
    group.save()
    Group.objects.filter(pk=group.pk).update(name="Unchanged")

    assert [e.action for e in trail("auth_group")] == ["INSERT"]


def test_queryset_update_is_audited_per_row(trail):
    a, b = GroupFactory(name="QU A"), GroupFactory(name="QU B")

    changed = Group.objects.filter(pk__in=[a.pk, b.pk]).update(name=Concat("name", Value(" v2")))

    updates = [e for e in trail("auth_group") if e.action == "UPDATE"]
    assert changed == 2
    assert sorted(
        (int(e.record_pk), e.old_values["name"], e.new_values["name"]) for e in updates
    ) == [
        (a.pk, "QU A", "QU A v2"),
        (b.pk, "QU B", "QU B v2"),
    ]


def test_bulk_create_and_bulk_update_are_audited(trail):
    groups = Group.objects.bulk_create([Group(name="Bulk 1"), Group(name="Bulk 2")])
    for g in groups:
        g.name = g.name + " renamed"
    Group.objects.bulk_update(groups, ["name"])

    events = trail("auth_group")
    assert [(e.action, e.new_values["name"]) for e in events] == [
        ("INSERT", "Bulk 1"),
        ("INSERT", "Bulk 2"),
        ("UPDATE", "Bulk 1 renamed"),
        ("UPDATE", "Bulk 2 renamed"),
    ]


def test_raw_sql_through_the_django_connection_is_audited(trail):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO auth_group (name) VALUES (%s)", ["Raw SQL group"])
        cursor.execute(
            "UPDATE auth_group SET name = %s WHERE name = %s", ["Raw 2", "Raw SQL group"]
        )
    pk = Group.objects.get(name="Raw 2").pk

    events = trail("auth_group")
    assert [(e.action, e.record_pk) for e in events] == [("INSERT", str(pk)), ("UPDATE", str(pk))]
    assert events[1].old_values == {"name": "Raw SQL group"}


def test_a_write_without_an_audit_context_is_refused_and_nothing_is_written(trail):
    before = Group.objects.count()

    with without_audit_context(), pytest.raises(DatabaseError) as exc, transaction.atomic():
        GroupFactory(name="Anonymous change")

    assert "audit: no attributable user for INSERT on auth_group" in str(exc.value)
    assert Group.objects.count() == before
    assert trail() == []


def test_many_to_many_links_of_a_user_are_audited(operator, trail):
    extra = GroupFactory(name="Extra rights")
    with acting_as(operator, reason="self-service?"):
        operator.groups.add(extra)

    [link] = trail("accounts_user_groups")
    assert link.action == "INSERT"
    assert link.new_values["user_id"] == operator.pk
    assert link.new_values["group_id"] == extra.pk
    assert link.user_name == "olivia.operator"


def test_passwords_are_recorded_only_as_digests(trail):
    user = UserFactory(username="pat.pass")

    events = trail("accounts_user")
    assert [e.action for e in events] == ["INSERT", "UPDATE"]
    password_change = events[1]
    assert set(password_change.new_values) == {"password"}
    assert password_change.new_values["password"].startswith("sha256:")
    assert user.password not in str(password_change.new_values)
    assert password_change.old_values["password"] == events[0].new_values["password"]


def test_on_behalf_of_and_request_id_are_recorded(trail):
    with audit_context(principal="system:celery", on_behalf_of="quinn.qa", request_id="req-42"):
        GroupFactory(name="From a task")

    [event] = trail("auth_group")
    assert (event.user_id, event.user_name, event.on_behalf_of, event.request_id) == (
        None,
        "system:celery",
        "quinn.qa",
        "req-42",
    )
    assert event.roles == ["system"]


# --- guards on GMP tables ---------------------------------------------------------------------


def test_append_only_records_refuse_update_and_delete(trail):
    entry = SecurityEventFactory()

    with pytest.raises(DatabaseError) as update, transaction.atomic():
        SecurityEvent.objects.filter(pk=entry.pk).update(username="eve")
    with pytest.raises(DatabaseError) as delete, transaction.atomic():
        SecurityEvent.objects.filter(pk=entry.pk).delete()

    assert "UPDATE refused on accounts_securityevent" in str(update.value)
    assert "DELETE refused on accounts_securityevent" in str(delete.value)
    assert SecurityEvent.objects.get(pk=entry.pk).username == "mallory"
    assert [e.action for e in trail("accounts_securityevent")] == ["INSERT"]


def test_records_that_are_never_deleted_refuse_delete_even_in_raw_sql(operator, trail):
    with pytest.raises(DatabaseError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [operator.pk])

    assert "DELETE refused on accounts_user" in str(exc.value)
    assert User.objects.filter(pk=operator.pk).exists()
    assert trail("accounts_user") == []


@pytest.fixture
def reason_required_for_groups():
    """auth.Group declared `require_reason` for the test (the triggers follow the registry)."""
    original = next(t for t in registry.audited_tables() if t.model is Group)
    registry.register(Group, require_reason=True)
    install(connection)
    yield
    registry.register(
        Group,
        capture=original.capture,
        append_only=original.append_only,
        require_reason=original.require_reason,
        deletable=original.deletable,
    )


def test_a_change_without_a_reason_is_refused_where_the_table_requires_one(
    reason_required_for_groups, trail
):
    with audit_context(principal="system:test", reason="set up"):
        group = GroupFactory(name="Needs reasons")

    with (
        audit_context(principal="system:test"),
        pytest.raises(DatabaseError) as exc,
        transaction.atomic(),
    ):
        Group.objects.filter(pk=group.pk).update(name="Silently renamed")
    with audit_context(principal="system:test", reason="typo in the name"):
        Group.objects.filter(pk=group.pk).update(name="Needs reasons (fixed)")

    assert "a reason is required to update a row of auth_group" in str(exc.value)
    events = trail("auth_group")
    assert [(e.action, e.reason) for e in events] == [
        ("INSERT", "set up"),
        ("UPDATE", "typo in the name"),
    ]
    assert Group.objects.get(pk=group.pk).name == "Needs reasons (fixed)"


def test_audit_events_cannot_be_changed_or_deleted_through_the_orm(trail):
    GroupFactory(name="Evidence")
    [event] = trail("auth_group")

    with pytest.raises(DatabaseError) as update, transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError) as delete, transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert "audit tables are append-only" in str(update.value)
    assert "audit tables are append-only" in str(delete.value)
    assert AuditEvent.objects.get(pk=event.pk).reason == "test setup"
