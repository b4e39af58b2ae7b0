import pytest
from guardian.shortcuts import assign_perm, remove_perm

from batches import services
from batches.models import BatchOrder, ParameterValue
from batches.tests import factories as f
from mes.accounts.models import ApiToken
from mes.accounts.services import api_token_create, api_token_revoke
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.audit.models import AuditEvent

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
    entry = recorded.json()
    assert (entry["phase"], entry["name"], entry["value_text"], entry["is_out_of_limit"]) == (
        ph.pk,
        "Charge temperature",
        "40",
        True,
    )
    assert entry["entered_by"] == operator.username
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


@pytest.fixture
def terminal(api_client, admin_user, operator, batch):
    """A terminal authenticated by its API token (the real header, not force_authenticate)."""
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    _token, key = api_token_create(actor=admin_user, user=operator, name="terminal 1")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/v1/mes/me/").status_code == 200  # stamps last_used_at (hourly)
    return api_client


@pytest.mark.postgres
def test_one_entry_through_a_token_stays_within_its_statement_budget(
    terminal, batch, operator, django_assert_max_num_queries
):
    """Token + user + permissions + roles in one statement, the scoped phase lookup, the batch
    and phase locks, the duplicate check, the entry and its event (audit context on each
    INSERT), and an answer that reads nothing more (savepoints are the test's transaction)."""
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    with django_assert_max_num_queries(9) as captured:
        response = terminal.post(
            f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
        )

    assert response.status_code == 201
    assert response.json()["value_text"] == "25"
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "auth_permission" in sql  # the permissions came with the token
    assert sql.count("FOR UPDATE") == 2  # the batch row, then the phase row


@pytest.mark.postgres
def test_an_entry_through_a_token_is_audited_with_the_operators_roles(terminal, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    response = terminal.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
    )

    event = AuditEvent.objects.get(
        table_name="batches_parametervalue", record_pk=str(response.json()["id"])
    )
    assert (event.user_name, event.roles, event.action) == (
        operator.username,
        ["Operator"],
        "INSERT",
    )


def test_the_entry_answer_grows_not_with_the_phase(terminal, batch, operator):
    """The answer is the new entry, whatever the phase already holds."""
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))

    response = terminal.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
    )

    assert response.status_code == 201
    assert "values" not in response.json()
    assert terminal.get(f"{PHASES}{ph.pk}/").json()["values"][0]["id"] == response.json()["id"]


def test_completion_answers_the_completed_phase_with_its_values(terminal, batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    services.parameter_value_record(actor=operator, phase=ph, name="Charge temperature", value="25")
    sign = {"username": operator.username, "password": DEFAULT_PASSWORD, "reason": ""}

    body = terminal.post(f"{PHASES}{ph.pk}/complete/", sign, format="json").json()

    assert (body["status"], body["completed_by"], body["batch"]) == (
        "completed",
        operator.username,
        batch.number,
    )
    assert [v["value_text"] for v in body["values"]] == ["25"]


def test_a_revoked_terminal_token_is_refused_on_the_next_entry(
    terminal, batch, operator, admin_user
):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    api_token_revoke(actor=admin_user, token=ApiToken.objects.get(user=operator), reason="lost")

    response = terminal.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
    )

    assert response.status_code == 401
    assert ParameterValue.objects.count() == 0


def test_a_withdrawn_role_takes_effect_on_the_next_token_request(terminal, batch, operator):
    """Permissions come with the token on every request: nothing is cached across requests."""
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    operator.groups.clear()

    response = terminal.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
    )

    assert response.status_code == 404  # the phase is no longer visible to the user
    assert ParameterValue.objects.count() == 0


def test_a_withdrawn_area_grant_takes_effect_on_the_next_command(terminal, batch, operator):
    """The compiled scope of a command is keyed by the actor's permissions; area grants are
    read in the database on every command."""
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = terminal.post(
        f"{PHASES}{ph.pk}/values/", {"name": "Charge temperature", "value": "25"}, format="json"
    )
    remove_perm("equipment.operate_in_area", operator, batch.unit.area)

    second = terminal.post(
        f"{PHASES}{ph.pk}/correct/",
        {"value_id": first.json()["id"], "value": "26", "reason": "misread"},
        format="json",
    )

    assert (first.status_code, second.status_code) == (201, 404)
    assert ParameterValue.objects.count() == 1


def test_a_command_on_an_unknown_phase_is_404(terminal):
    assert terminal.post(f"{PHASES}999999/start/").status_code == 404
