"""The ERP messages page: dead letters with their error, retry with a reason, the mapping
editor (with a reason), permissions."""

import pytest

from erp_connectors.models import DeadLetterRetry, ErpConnection, OutboxMessage, OutboxStatus
from erp_connectors.outbox import message_write
from erp_connectors.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead(admin_user):
    conn = f.connection(actor=admin_user, code="SAP9")
    from erp_connectors.models import ErpOrderLink

    link = ErpOrderLink.objects.create(
        connection=conn,
        erp_order_id="1000777",
        version="1",
        kind="discrete",
        material_code="X",
        quantity=1,
        uom="ea",
    )
    message = message_write(link=link, kind="order_start", source="start", payload={"a": 1})
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.DEAD, last_error="RU/107 Operation 0010 does not exist"
    )
    return OutboxMessage.objects.get(pk=message.pk)


def test_a_supervisor_sees_the_dead_letter_and_retries_it(client, supervisor, dead):
    client.force_login(supervisor)
    page = client.get("/erp-connectors/")
    assert page.status_code == 200
    assert "RU/107 Operation 0010 does not exist" in page.content.decode()

    response = client.post(f"/erp-connectors/messages/{dead.pk}/retry/", {"reason": "op mapped"})

    assert response.status_code == 302
    dead.refresh_from_db()
    assert dead.status == "pending"
    assert DeadLetterRetry.objects.get().reason == "op mapped"


def test_a_retry_without_a_reason_changes_nothing(client, supervisor, dead):
    client.force_login(supervisor)
    client.post(f"/erp-connectors/messages/{dead.pk}/retry/", {"reason": ""})
    dead.refresh_from_db()
    assert dead.status == "dead"
    assert DeadLetterRetry.objects.count() == 0


def test_an_operator_may_not_open_the_page_or_retry(client, operator, dead):
    client.force_login(operator)
    assert client.get("/erp-connectors/").status_code == 403
    assert (
        client.post(f"/erp-connectors/messages/{dead.pk}/retry/", {"reason": "x" * 5}).status_code
        == 403
    )
    dead.refresh_from_db()
    assert dead.status == "dead"


def test_the_mapping_is_fixed_with_a_reason(client, admin_user, dead):
    client.force_login(admin_user)
    url = f"/erp-connectors/connections/{dead.connection_id}/"
    refused = client.post(url, {"mapping": '{"work_centers": {"ASM": "0010"}}', "reason": ""})
    assert refused.status_code == 200
    assert ErpConnection.objects.get().mapping == {}

    saved = client.post(
        url, {"mapping": '{"work_centers": {"ASM": "0010"}}', "reason": "ops mapped"}
    )
    assert saved.status_code == 302
    assert ErpConnection.objects.get().mapping == {"work_centers": {"ASM": "0010"}}
    bad = client.post(url, {"mapping": "{not json", "reason": "oops"})
    assert "not valid JSON" in bad.content.decode()
