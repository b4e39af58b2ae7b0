"""Plant records (equipment.Site, with django-simple-history) in the trail: one event per
write with old and new values, the history tables append-only, the record's trail partial.
Runs on both databases."""

import pytest
from django.db import DatabaseError, connection, transaction

from equipment.models import Site
from equipment.tests.factories import SiteFactory
from mes.audit.context import acting_as
from mes.audit.selectors import events_for_record
from mes.audit.testing import seal_pending, trail  # noqa: F401
from mes.history import update_with_history

pytestmark = pytest.mark.django_db


def test_a_site_created_changed_and_deleted_gives_three_events(admin_user, trail):  # noqa: F811
    with acting_as(admin_user, reason="new plant"):
        site = SiteFactory(code="GMP1", name="Plant one")
        site.timezone = "Europe/Dublin"
        site.save()
        pk = site.pk
        site.delete()

    events = trail("equipment_site")
    assert [(e.action, e.record_pk) for e in events] == [
        ("INSERT", str(pk)),
        ("UPDATE", str(pk)),
        ("DELETE", str(pk)),
    ]
    assert events[0].new_values == {
        "id": pk,
        "code": "GMP1",
        "name": "Plant one",
        "timezone": "UTC",
    }
    assert (events[1].old_values, events[1].new_values) == (
        {"timezone": "UTC"},
        {"timezone": "Europe/Dublin"},
    )
    assert events[2].old_values["timezone"] == "Europe/Dublin"
    assert {(e.user_name, e.reason) for e in events} == {("ada.admin", "new plant")}
    assert trail("equipment_historicalsite") == []  # history rows are not captured


def test_history_rows_cannot_be_rewritten(admin_user):
    with acting_as(admin_user, reason="history"):
        SiteFactory(code="HIST", name="History")

    with pytest.raises(DatabaseError) as update, transaction.atomic(), connection.cursor() as c:
        c.execute("UPDATE equipment_historicalsite SET name = 'rewritten'")
    with pytest.raises(DatabaseError) as delete, transaction.atomic(), connection.cursor() as c:
        c.execute("DELETE FROM equipment_historicalsite")

    assert "UPDATE refused on equipment_historicalsite" in str(update.value)
    assert "DELETE refused on equipment_historicalsite" in str(delete.value)
    assert Site.history.filter(code="HIST").count() == 1


def test_the_record_trail_of_a_site(admin_user):
    with acting_as(admin_user, reason="rename"):
        site = SiteFactory(code="TR", name="Before")
        site.name = "After"
        site.save()
    seal_pending()

    events = list(events_for_record(Site, site.pk))

    assert [(e.action, e.changes) for e in events] == [
        (
            "INSERT",
            [
                ("ID", "", str(site.pk)),
                ("code", "", "TR"),
                ("name", "", "Before"),
                ("timezone", "", "UTC"),
            ],
        ),
        ("UPDATE", [("name", "Before", "After")]),
    ]


def test_history_manager_class_is_built_once_and_each_instance_sees_its_own_rows(admin_user):
    """mes/history.py: the manager class `instance.history` returns is built once (it was
    rebuilt with inspect.getmembers on every save), and still scoped to its instance."""
    with acting_as(admin_user, reason="history"):
        one = SiteFactory(code="H1", name="One")
        two = SiteFactory(code="H2", name="Two")
        one.name = "One, renamed"
        one.save()

    assert type(one.history) is type(two.history) is type(Site.objects.get(pk=one.pk).history)
    assert [h.name for h in one.history.order_by("history_id")] == ["One", "One, renamed"]
    assert [h.name for h in two.history.all()] == ["Two"]
    assert Site.history.filter(code__in=["H1", "H2"]).count() == 3


def test_update_with_history_writes_the_row_simple_history_would(admin_user, trail):  # noqa: F811
    """mes.history.update_with_history (one statement on PostgreSQL) against a plain save:
    the same history row (the row as updated, type, user, reason) and the same audit event."""
    with acting_as(admin_user, reason="rename"):
        one, two = SiteFactory(code="U1", name="One"), SiteFactory(code="U2", name="Two")
        one.name, two.name = "One, renamed", "Two, renamed"
        two._history_user = admin_user
        two.save(update_fields=["name"])
        update_with_history(one, ["name"], user=admin_user)

    def last(site):
        row = site.history.order_by("-history_id").first()
        return (row.name, row.code, row.timezone, row.history_type, row.history_user_id)

    assert last(one) == ("One, renamed", "U1", "UTC", "~", admin_user.pk)
    assert last(two) == ("Two, renamed", "U2", "UTC", "~", admin_user.pk)
    assert Site.objects.get(pk=one.pk).name == "One, renamed"
    events = [e for e in trail("equipment_site") if e.action == "UPDATE"]
    assert [(e.record_pk, e.new_values) for e in events] == [
        (str(two.pk), {"name": "Two, renamed"}),
        (str(one.pk), {"name": "One, renamed"}),
    ]
