"""The ERP-connector API: an ERP pushes orders with a token (201 / 200 / 409 with the reason),
dead letters are retried with a reason, B2MML both ways, permissions, DELETE refused."""

from decimal import Decimal

import pytest
from django.utils import timezone

from batches import services as batch_services
from batches.models import BatchOrder
from batches.tests import factories as bf
from erp_connectors import b2mml
from erp_connectors.models import (
    DeadLetterRetry,
    ErpOrderLink,
    InboundReceipt,
    OutboxMessage,
    OutboxStatus,
)
from erp_connectors.tests import factories as f
from mes.accounts.services import api_token_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/erp-connectors/orders/"


@pytest.fixture
def conn(admin_user, recipe_author, qa_user):
    bf.recipe(author=recipe_author, reviewer=qa_user)
    return f.connection(actor=admin_user, code="SAP1")


def _body(**kw):
    body = {
        "connection": "SAP1",
        "erp_order_id": "4711",
        "version": "1",
        "kind": "process",
        "material_code": "RESIN-T",
        "recipe_code": "RESIN-T",
        "quantity": "2000",
        "uom": "kg",
        "due": (timezone.localdate()).isoformat(),
        "expected_yield_pct": "97.5",
    }
    body.update(kw)
    return body


def test_an_erp_pushes_an_order_with_its_token_once(api_client, conn, integration_user, admin_user):
    _token, key = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    created = api_client.post(URL, _body(), format="json")
    again = api_client.post(URL, _body(), format="json")

    batch = BatchOrder.objects.get()
    assert created.status_code == 201
    assert created.json() == {
        "outcome": "created",
        "erp_order_id": "4711",
        "version": "1",
        "mes_number": batch.number,
        "reason": "",
        "original": "",
    }
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["original"] == "created"
    assert InboundReceipt.objects.get().actor == integration_user


def test_a_refused_change_is_409_with_the_reason_and_sent_back(
    api_client, conn, integration_user, operator, supervisor
):
    api_client.force_authenticate(integration_user)
    api_client.post(URL, _body(), format="json")
    batch = BatchOrder.objects.get()
    reactor = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch_services.batch_start(actor=operator, batch=batch, unit=reactor)

    response = api_client.post(URL, _body(version="2", quantity="2500"), format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "order_change_refused"
    assert body["detail"] == (
        f"ERP order 4711 version 2 refused: batch {batch.number} is already started; the MES "
        "order can no longer be changed."
    )
    assert OutboxMessage.objects.filter(kind="order_rejection").count() == 1
    assert BatchOrder.objects.get().batch_size == Decimal("2000")


@pytest.mark.parametrize(
    ("who", "status"),
    [("operator", 403), ("planner", 403), ("qa_user", 403), ("integration_user", 201)],
)
def test_only_the_integration_role_may_push_orders(api_client, conn, request, who, status):
    api_client.force_authenticate(request.getfixturevalue(who))

    response = api_client.post(URL, _body(), format="json")

    assert response.status_code == status
    assert BatchOrder.objects.count() == (1 if status == 201 else 0)


def test_an_anonymous_push_is_401_and_writes_nothing(api_client, conn):
    response = api_client.post(URL, _body(), format="json")
    assert response.status_code == 401
    assert ErpOrderLink.objects.count() == 0


def test_an_invalid_push_is_400_by_field(api_client, conn, integration_user):
    api_client.force_authenticate(integration_user)
    response = api_client.post(URL, _body(quantity="-5", kind="batch"), format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"kind"}
    response = api_client.post(URL, _body(quantity="0"), format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "ERP order 4711: the quantity must be positive."
    assert BatchOrder.objects.count() == 0


def test_an_unknown_connection_is_404(api_client, conn, integration_user):
    api_client.force_authenticate(integration_user)
    response = api_client.post(URL, _body(connection="NOPE"), format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "connection_not_found"


def _dead_message(conn, integration_user, operator, supervisor):
    from erp_connectors.inbound import order_receive

    order_receive(actor=integration_user, connection=conn, order=f.process_order("4711"))
    reactor = bf.reactor(cleaned_by=operator, verified_by=supervisor)
    batch_services.batch_start(actor=operator, batch=BatchOrder.objects.get(), unit=reactor)
    OutboxMessage.objects.update(status=OutboxStatus.DEAD, last_error="422 unknown plant")
    return OutboxMessage.objects.get()


def test_a_supervisor_retries_a_dead_letter_with_a_reason(
    api_client, conn, integration_user, operator, supervisor
):
    message = _dead_message(conn, integration_user, operator, supervisor)
    api_client.force_authenticate(supervisor)

    listed = api_client.get("/api/v1/erp-connectors/outbox/?status=dead")
    no_reason = api_client.post(f"/api/v1/erp-connectors/outbox/{message.pk}/retry/", {})
    retried = api_client.post(
        f"/api/v1/erp-connectors/outbox/{message.pk}/retry/", {"reason": "plant code mapped"}
    )

    assert [m["id"] for m in listed.json()["results"]] == [message.pk]
    assert listed.json()["results"][0]["last_error"] == "422 unknown plant"
    assert no_reason.status_code == 400
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    assert DeadLetterRetry.objects.get().reason == "plant code mapped"


def test_an_operator_cannot_retry_and_nobody_deletes(
    api_client, conn, integration_user, operator, supervisor, admin_user
):
    message = _dead_message(conn, integration_user, operator, supervisor)
    api_client.force_authenticate(operator)
    response = api_client.post(
        f"/api/v1/erp-connectors/outbox/{message.pk}/retry/", {"reason": "let me"}
    )
    assert response.status_code == 403
    api_client.force_authenticate(admin_user)
    assert api_client.delete(f"/api/v1/erp-connectors/outbox/{message.pk}/").status_code == 405
    assert api_client.delete(URL + f"{ErpOrderLink.objects.get().pk}/").status_code == 405
    message.refresh_from_db()
    assert message.status == "dead"
    assert DeadLetterRetry.objects.count() == 0


def test_b2mml_schedule_import_through_the_api_and_performance_export(
    api_client, conn, integration_user, supervisor
):
    xml = f"""<?xml version="1.0"?>
<SyncOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML" releaseID="7.01">
  <ApplicationArea><CreationDateTime>2026-11-24T10:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea><Sync/>
    <OperationsSchedule>
      <ID>S-1</ID><Version>1</Version><OperationsType>Production</OperationsType>
      <OperationsRequest>
        <ID>B2M-1</ID><EndTime>{timezone.localdate().isoformat()}T18:00:00+00:00</EndTime>
        <OperationsDefinitionID>RESIN-T</OperationsDefinitionID>
        <RequestState>Released</RequestState>
        <SegmentRequirement><ID>1</ID>
          <MaterialRequirement>
            <MaterialDefinitionID>RESIN-T</MaterialDefinitionID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>1800</QuantityString><UnitOfMeasure>kg</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
      </OperationsRequest>
    </OperationsSchedule>
  </DataArea>
</SyncOperationsSchedule>"""
    api_client.force_authenticate(integration_user)

    first = api_client.post(
        "/api/v1/erp-connectors/b2mml/schedule/?connection=SAP1",
        data=xml,
        content_type="application/xml",
    )
    second = api_client.post(
        "/api/v1/erp-connectors/b2mml/schedule/?connection=SAP1",
        data=xml,
        content_type="application/xml",
    )

    assert first.status_code == 200
    assert [r["outcome"] for r in first.json()] == ["created"]
    assert [r["outcome"] for r in second.json()] == ["duplicate"]
    batch = BatchOrder.objects.get()
    assert batch.batch_size == Decimal("1800")
    assert InboundReceipt.objects.get().channel == "b2mml"

    api_client.force_authenticate(supervisor)
    exported = api_client.get(f"/api/v1/erp-connectors/b2mml/performance/batch/{batch.pk}/")
    assert exported.status_code == 200
    assert exported["Content-Type"] == "application/xml"
    root = b2mml._parse(exported.content)
    perf = b2mml.find_first(root, "OperationsPerformance")
    assert b2mml._text(perf, "ID") == batch.number
    assert b2mml._text(perf, "OperationsScheduleID") == "B2M-1"


def test_a_b2mml_document_with_a_dtd_is_refused(api_client, conn, integration_user):
    api_client.force_authenticate(integration_user)
    response = api_client.post(
        "/api/v1/erp-connectors/b2mml/schedule/?connection=SAP1",
        data='<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        content_type="application/xml",
    )
    assert response.status_code == 400
    assert BatchOrder.objects.count() == 0
