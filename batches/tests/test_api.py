import pytest
from guardian.shortcuts import assign_perm

from batches import services
from batches.models import BatchOrder, ParameterValue
from batches.tests import factories as f
from mes.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/batches/orders/"
PHASES = "/api/v1/batches/phases/"


@pytest.mark.parametrize(
    ("who", "status"),
    [("planner", 201), ("supervisor", 201), ("operator", 403), ("qa_user", 403)],
)
def test_create_permission_matrix(request, api_client, version, who, status):
    user = request.getfixturevalue(who)
    api_client.force_authenticate(user)

    response = api_client.post(
        ORDERS, {"recipe_version": version.pk, "batch_size": "2000", "number": "B-9"}, format="json"
    )

    assert response.status_code == status
    assert BatchOrder.objects.filter(number="B-9").count() == (1 if status == 201 else 0)
    if status == 403:
        assert response.json()["code"] == "not_authorized"


def test_create_returns_the_batch(api_client, planner, version):
    api_client.force_authenticate(planner)

    body = api_client.post(
        ORDERS, {"recipe_version": version.pk, "batch_size": "2000", "number": "B-9"}, format="json"
    ).json()

    assert (body["number"], body["status"], body["recipe"], body["batch_size"]) == (
        "B-9",
        "created",
        "RESIN-T",
        "2000.000000",
    )


def test_size_out_of_range_is_a_400(api_client, planner, version):
    api_client.force_authenticate(planner)

    response = api_client.post(
        ORDERS, {"recipe_version": version.pk, "batch_size": "9000"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "batch_size_out_of_range"
    assert BatchOrder.objects.count() == 0


def test_delete_is_405(api_client, planner, batch):
    api_client.force_authenticate(planner)

    response = api_client.delete(f"{ORDERS}{batch.pk}/")

    assert response.status_code == 405
    assert BatchOrder.objects.filter(pk=batch.pk).exists()


@pytest.fixture
def shop(api_client, operator, batch):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    api_client.force_authenticate(operator)
    return api_client


def test_terminal_flow_over_the_api(shop, batch, operator):
    ph = f.phase(batch, 1)

    started = shop.post(f"{PHASES}{ph.pk}/start/")
    recorded = shop.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "40"}, format="json"
    )
    again = shop.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "30"}, format="json"
    )

    assert started.json()["status"] == "active"
    assert recorded.status_code == 201
    assert [(v["value_text"], v["is_out_of_limit"]) for v in recorded.json()["values"]] == [
        ("40", True)
    ]
    assert again.status_code == 409
    assert again.json()["code"] == "value_already_recorded"
    assert ParameterValue.objects.count() == 1


def test_signed_completion_over_the_api_and_a_second_one_is_409(shop, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")
    sign = {"username": operator.username, "password": DEFAULT_PASSWORD, "reason": ""}

    first = shop.post(f"{PHASES}{ph.pk}/complete/", sign, format="json")
    second = shop.post(f"{PHASES}{ph.pk}/complete/", sign, format="json")

    assert first.status_code == 200
    assert first.json()["completed_by"] == operator.username
    assert second.status_code == 409
    assert second.json()["code"] == "phase_not_active"


def test_wrong_password_is_refused(shop, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")

    response = shop.post(
        f"{PHASES}{ph.pk}/complete/",
        {"username": operator.username, "password": "nope"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"].startswith("signature")
    assert f.phase(batch, 1).status == "active"


def _numbers(body):
    rows = body["results"] if isinstance(body, dict) else body
    return [b["number"] for b in rows]


def test_list_is_scoped_by_area(api_client, operator, batch):
    api_client.force_authenticate(operator)
    outside = _numbers(api_client.get(ORDERS).json())
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)

    inside = _numbers(api_client.get(ORDERS).json())

    assert outside == []
    assert inside == [batch.number]


def test_list_query_budget(api_client, planner, version, django_assert_max_num_queries):
    for n in range(3):
        f.batch_order(planner=planner, version=version, number=f"B-Q{n}")
    api_client.force_authenticate(planner)

    with django_assert_max_num_queries(8):
        body = api_client.get(ORDERS).json()

    assert sorted(_numbers(body)) == ["B-Q0", "B-Q1", "B-Q2"]
