"""Quality writes reach the audit trail with the actor and the reason; on PostgreSQL the
database itself keeps results and dispositions append-only (a result is never edited)."""

import pytest
from django.db import DatabaseError, connection, transaction

from genealogy.tests.factories import received_lot
from quality import services
from quality.models import LabResult
from quality.tests.factories import PASSING, enter_results, sign_as, spec_test_named

pytestmark = pytest.mark.django_db


def test_a_release_is_in_the_trail_with_actor_and_reason(spec, qa_user, trail):
    lot = received_lot(material=spec.material, lot_number="AT-1")
    enter_results(lot, spec, PASSING, actor=qa_user)

    disposition = services.lot_release(
        actor=qa_user, lot=lot, signer=sign_as(qa_user), reason="Conforms"
    )

    [created] = trail("quality_lotdisposition")
    assert (created.action, created.record_pk, created.user_name) == (
        "INSERT",
        str(disposition.pk),
        "quinn.qa",
    )
    assert created.reason == "lot AT-1 released: Conforms"
    [status] = [e for e in trail("genealogy_lot") if e.action == "UPDATE"]
    assert (status.old_values["status"], status.new_values["status"]) == ("quarantine", "released")
    assert status.user_name == "quinn.qa"


def test_a_result_entry_is_in_the_trail(spec, qa_user, trail):
    lot = received_lot(material=spec.material, lot_number="AT-2")

    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="99.4"
    )

    [created] = trail("quality_labresult")
    assert (created.action, created.user_name) == ("INSERT", "quinn.qa")
    assert created.new_values["value_text"] == "99.4"
    assert created.new_values["id"] == result.pk


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE quality_labresult SET value_text = '101', outcome = 'pass' WHERE id = %s",
        "DELETE FROM quality_labresult WHERE id = %s",
    ],
)
def test_the_database_refuses_to_edit_or_delete_a_result(spec, qa_user, sql):
    lot = received_lot(material=spec.material, lot_number="AT-3")
    result = services.lab_result_enter(
        actor=qa_user, lot=lot, spec_test=spec_test_named(spec, "Assay"), value="96.0"
    )

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [result.pk])

    result.refresh_from_db()
    assert (result.value_text, result.outcome) == ("96", "fail")
    assert LabResult.objects.filter(pk=result.pk).count() == 1
