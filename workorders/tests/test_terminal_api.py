"""The terminal's hot path through the API: one unit completion is a fixed, small number of SQL
statements (a ceiling that fails if a lookup per row or a re-read creeps back in), keeps every
rule, and a unit the operator may not see stays a 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from guardian.shortcuts import assign_perm, remove_perm
from rest_framework.test import APIClient

from mes.accounts import services as accounts
from mes.accounts.tests.factories import UserFactory
from mes.audit.models import AuditEvent
from mes.testing import save_receivers
from workorders import services
from workorders.choices import QuantityKind, UnitStatus
from workorders.models import QuantityReport, WorkOrderUnit
from workorders.tests.conftest import op

pytestmark = pytest.mark.django_db

# One completion through the API, authenticated by token (PostgreSQL):
#   token + user + permissions + roles (1), BEGIN, lock the unit (1), lock the operation and
#   the next one with the work order, area grant, "consumes/inspects?" (1), INSERT the
#   quantity report (1), UPDATE the operation and the next one (1), UPDATE the unit (1),
#   INSERT the unit's history row (1), COMMIT. No receiver of another app reads anything
#   for a planner's order (the ERP outbox looks for a link only on ERP and handoff orders).
# In tests the transaction is a savepoint (SAVEPOINT / RELEASE replace BEGIN / COMMIT).
API_COMPLETION_CEILING = 9
# The service's own statements on workorders tables: 2 locks, 1 insert, 2 updates, 1 history.
SERVICE_COMPLETION_CEILING = 6


def _terminal(operator):
    admin = UserFactory(username="token-admin", is_superuser=True, is_staff=True)
    _token, key = accounts.api_token_create(actor=admin, user=operator, name="terminal")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _statements(ctx):
    """The statements run, a prepared statement's EXECUTE as the text it was prepared from."""
    return [_prepared_text(q["sql"]) for q in ctx.captured_queries]


def _prepared_text(sql):
    if not sql.startswith("EXECUTE "):
        return sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE name = %s", [sql.split()[1]]
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres  # the one-statement token lookup and the row locks are PostgreSQL's
def test_one_completion_stays_within_its_statement_ceiling(released_wo, operator):
    client = _terminal(operator)
    first, unit = released_wo.units.order_by("id")[:2]
    client.post(f"/api/v1/workorders/units/{first.pk}/complete/")  # warm the caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/v1/workorders/units/{unit.pk}/complete/")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": unit.pk,
        "serial_number": unit.serial_number,
        "status": "in_process",
        "operation": 20,
    }
    sql = _statements(ctx)
    assert len(sql) <= API_COMPLETION_CEILING, "\n".join(sql)
    locks = [s for s in sql if "FOR UPDATE" in s]
    assert len(locks) == 2  # the unit, then its operation + next + work order
    # the item and the area are read, never locked (that serialized every terminal)
    assert 'FOR UPDATE OF "workorders_workorderoperation", "workorders_workorder"' in locks[1]
    assert [r.kind for r in QuantityReport.objects.filter(unit=unit)] == [QuantityKind.GOOD]
    assert (op(released_wo, 10).wip, op(released_wo, 20).wip) == (1, 2)
    # the unit's history row, written with its UPDATE in one statement (mes.history)
    moved = unit.history.order_by("-history_id").first()
    assert (moved.operation_id, moved.status, moved.history_type) == (
        op(released_wo, 20).pk,
        UnitStatus.IN_PROCESS,
        "~",
    )
    assert moved.history_user_id == operator.pk
    # one UPDATE wrote both operations; the audit trail still has each row's own change
    ops = [s for s in sql if s.lstrip().upper().startswith(("UPDATE", "SELECT SET_CONFIG"))]
    assert sum('"workorders_workorderoperation"' in s for s in ops) == 1
    changes = {
        e.record_pk: (e.old_values, e.new_values)
        for e in AuditEvent.objects.filter(
            table_name="workorders_workorderoperation",
            action="UPDATE",
            reason__contains=unit.serial_number,
        )
    }
    assert changes == {
        str(op(released_wo, 10).pk): ({"qty_good": 1}, {"qty_good": 2}),
        str(op(released_wo, 20).pk): ({"qty_received": 1}, {"qty_received": 2}),
    }


def test_the_service_writes_and_locks_in_six_statements(released_wo, operator):
    unit = released_wo.units.order_by("id").first()
    with CaptureQueriesContext(connection) as ctx:
        done = services.unit_complete_operation(actor=operator, unit=unit)
    assert (done.operation.seq, done.status) == (20, UnitStatus.IN_PROCESS)
    own = [s for s in _statements(ctx) if '"workorders_' in s]
    assert len(own) <= SERVICE_COMPLETION_CEILING, "\n".join(own)


def test_completion_at_the_last_operation_finishes_the_unit(released_wo, operator, line):
    from workorders.tests.test_services import _through

    client = _terminal(operator)
    unit = released_wo.units.order_by("id").first()
    _through(released_wo, unit, operator, upto=50, pail="PS-001")
    response = client.post(f"/api/v1/workorders/units/{unit.pk}/complete/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "finished"
    assert response.json()["operation"] == 50
    assert (op(released_wo, 50).qty_good, op(released_wo, 50).wip) == (1, 0)


def test_a_refusal_is_409_with_its_reason_and_writes_nothing(released_wo, operator):
    client = _terminal(operator)
    unit = released_wo.units.order_by("id").first()
    services.unit_complete_operation(actor=operator, unit=unit)  # now at 20: needs a pail
    response = client.post(f"/api/v1/workorders/units/{unit.pk}/complete/")
    assert response.status_code == 409
    assert response.json()["code"] == "components_missing"
    assert QuantityReport.objects.filter(unit=unit).count() == 1


def test_operator_who_lost_the_area_is_refused_and_a_unit_out_of_sight_is_404(
    released_wo, operator, line
):
    client = _terminal(operator)
    unit = released_wo.units.order_by("id").first()
    remove_perm("equipment.operate_in_area", operator, line.area)
    response = client.post(f"/api/v1/workorders/units/{unit.pk}/complete/")
    assert response.status_code == 404
    assert client.post("/api/v1/workorders/units/999999/complete/").status_code == 404
    assert client.post("/api/v1/workorders/units/abc/complete/").status_code == 404
    assert not QuantityReport.objects.exists()


def test_operator_who_sees_the_area_but_may_not_operate_in_it_gets_403(released_wo, operator, line):
    client = _terminal(operator)
    assign_perm("equipment.review_in_area", operator, line.area)
    remove_perm("equipment.operate_in_area", operator, line.area)
    unit = released_wo.units.order_by("id").first()
    response = client.post(f"/api/v1/workorders/units/{unit.pk}/complete/")
    assert response.status_code == 403
    assert "(operate_in_area)" in response.json()["detail"]
    assert not QuantityReport.objects.exists()


def test_the_command_body_has_the_unit_serializers_shape(released_wo):
    from workorders.api.serializers import WorkOrderUnitSerializer
    from workorders.api.views import _unit_body

    unit = released_wo.units.select_related("operation").order_by("id").first()
    assert _unit_body(unit) == WorkOrderUnitSerializer(unit).data


def test_nothing_but_simple_history_listens_to_unit_saves():
    """The completion writes the unit and its history row in one statement, without sending
    pre_save / post_save (mes.history.update_with_history): a receiver added for units would
    silently miss those saves. This fails first."""
    assert save_receivers(WorkOrderUnit) == ([], ["simple_history.models"])
