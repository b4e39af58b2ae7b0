"""The API kernel: authentication on every route, one error body, GMP viewsets, the schema.

This module is also the URLconf of its own tests (`@pytest.mark.urls(__name__)`): it mounts
a few views that raise each kind of error, and a GMP viewset over users, next to the real
project URLs.
"""

import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.http import Http404
from django.urls import (
    Resolver404,
    URLPattern,
    URLResolver,
    get_resolver,
    include,
    path,
    resolve,
)
from rest_framework import mixins, serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.test import APIClient

from mes.accounts.models import ApiToken, User
from mes.accounts.services import api_token_create, user_deactivate
from mes.api.viewsets import (
    DELETE_REFUSED_DETAIL,
    GmpGenericViewSet,
    VoidActionMixin,
)
from mes.exceptions import Conflict, InvalidInput, InvalidTransition, NotAuthorized, NotFound
from mes.urls import urlpatterns as project_urlpatterns

# --- the test URLconf ------------------------------------------------------------------------

ERRORS = {
    "invalid-input": InvalidInput("The quantity must be positive."),
    "not-authorized": NotAuthorized("Only QA may release a lot."),
    "not-found": NotFound("No lot L-1 in your areas."),
    "conflict": Conflict("The batch is already released."),
    "invalid-transition": InvalidTransition("A closed deviation cannot be reopened."),
    "django-validation": DjangoValidationError({"quantity": ["Must be positive."]}),
    "django-validation-plain": DjangoValidationError("The lot is expired."),
    "integrity": IntegrityError("duplicate key value violates unique constraint"),
    "http404": Http404("no such thing"),
    "django-permission": DjangoPermissionDenied("nope"),
    "unexpected": RuntimeError("boom"),
}


@api_view(["GET"])
def raise_error(request, kind):
    raise ERRORS[kind]


class QuantityInputSerializer(serializers.Serializer):
    quantity = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    unit = serializers.CharField()


@api_view(["POST"])
def validate_quantity(request):
    serializer = QuantityInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return Response({"ok": True})


class UserRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "is_active", "deactivation_reason"]


class UserRecordViewSet(
    VoidActionMixin,
    mixins.DestroyModelMixin,  # a destroy that slipped in must still be refused
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    GmpGenericViewSet,
):
    """A GMP viewset as an app would write it: void = the accounts service deactivating."""

    serializer_class = UserRecordSerializer

    def get_queryset(self):
        return User.objects.filter(is_system=False).order_by("pk")

    def perform_void(self, *, instance, actor, reason):
        return user_deactivate(actor=actor, user=instance, reason=reason)


router = SimpleRouter()
router.register("user-records", UserRecordViewSet, basename="user-record")

urlpatterns = [
    path("api/v1/test/errors/<str:kind>/", raise_error),
    path("api/v1/test/quantity/", validate_quantity),
    path("api/v1/test/", include(router.urls)),
    *project_urlpatterns,
]

test_urls = pytest.mark.urls(__name__)


# --- every /api/ route of the project needs authentication -----------------------------------

SAMPLES = {"int": "1", "uuid": str(uuid.UUID(int=1)), "format": "json"}


def _route_sample(route: str) -> str:
    def sample(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return SAMPLES.get(converter, "x1")

    return re.sub(r"<(?:(\w+):)?\w+>", sample, route)


def _regex_sample(regex: str) -> str:
    text = regex.removeprefix("^").removesuffix("$").removesuffix("\\Z")

    def group(m: re.Match) -> str:
        name, body = m.group(1), m.group(2)
        if re.fullmatch(r"[\w-]+(\|[\w-]+)+", body):  # a choice of words: take the first
            return body.split("|")[0]
        return SAMPLES.get(name, "1")

    text = re.sub(r"\(\?P<(\w+)>([^)]*)\)", group, text)
    return text.replace("\\.", ".").replace("/?", "/")


def _sample(pattern) -> str:
    raw = str(pattern.pattern)
    if pattern.pattern.__class__.__name__ == "RoutePattern":
        return _route_sample(raw)
    return _regex_sample(raw)


def api_routes() -> list[tuple[str, str, object]]:
    """(sample path, view name, view) for every URL pattern under /api/ of the project."""
    found: list[tuple[str, str, object]] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + _sample(p))
            elif isinstance(p, URLPattern):
                if "(?P<format>" in str(p.pattern):
                    continue  # the same view as its route without the format suffix
                full = "/" + prefix + _sample(p)
                if full.startswith("/api/"):
                    found.append((full, p.lookup_str, p.callback))

    walk(get_resolver("mes.urls").url_patterns, "")
    return found


ANONYMOUS_CODES = {"not_authenticated", "authentication_failed"}


def test_the_route_walker_sees_the_platform_routes():
    paths = {p for p, _, _ in api_routes()}
    assert {"/api/v1/mes/me/", "/api/schema/", "/api/docs/"} <= paths


def test_every_api_route_resolves_from_its_sample_path():
    wrong = []
    for sample, lookup, view in api_routes():
        try:
            match = resolve(sample, urlconf="mes.urls")
        except Resolver404:
            wrong.append((sample, lookup, "unresolved"))
            continue
        if match.func is not view:
            wrong.append((sample, lookup, match._func_path))
    assert wrong == []


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_api_route_refuses_anonymous_requests(method):
    client = APIClient()
    failures = []
    for sample, lookup, _view in api_routes():
        response = getattr(client, method)(sample)
        if response.status_code not in (401, 403):
            failures.append((method.upper(), sample, lookup, response.status_code))
            continue
        if "json" in response.get("Content-Type", ""):
            body = response.json()
            if body.get("code") not in ANONYMOUS_CODES or not body.get("detail"):
                failures.append((method.upper(), sample, lookup, body))
    assert failures == []


@pytest.mark.django_db
def test_anonymous_api_answer_is_401_with_token_challenge(api_client):
    response = api_client.get("/api/v1/mes/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "code": "not_authenticated",
        "detail": "Authentication credentials were not provided.",
    }


@pytest.mark.django_db
def test_api_token_authenticates_and_a_revoked_one_does_not(
    api_client, integration_user, admin_user
):
    token, key = api_token_create(actor=admin_user, user=integration_user, name="SAP")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = api_client.get("/api/v1/mes/me/")
    assert response.status_code == 200
    assert response.json() == {
        "username": "erp.sap",
        "printed_name": "SAP Integration",
        "roles": ["Integration (ERP)"],
    }

    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = api_client.get("/api/v1/mes/me/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Invalid or revoked token.",
    }
    assert ApiToken.objects.filter(pk=token.pk, revoked_at=None).count() == 1


# --- one error body ---------------------------------------------------------------------------


@test_urls
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        (
            "invalid-input",
            400,
            {"code": "invalid_input", "detail": "The quantity must be positive."},
        ),
        ("not-authorized", 403, {"code": "not_authorized", "detail": "Only QA may release a lot."}),
        ("not-found", 404, {"code": "not_found", "detail": "No lot L-1 in your areas."}),
        ("conflict", 409, {"code": "conflict", "detail": "The batch is already released."}),
        (
            "invalid-transition",
            409,
            {"code": "invalid_transition", "detail": "A closed deviation cannot be reopened."},
        ),
        (
            "django-validation",
            400,
            {
                "code": "invalid_input",
                "detail": "Invalid input: quantity: Must be positive.",
                "errors": {"quantity": ["Must be positive."]},
            },
        ),
        (
            "django-validation-plain",
            400,
            {
                "code": "invalid_input",
                "detail": "Invalid input: The lot is expired.",
                "errors": {"non_field_errors": ["The lot is expired."]},
            },
        ),
        (
            "integrity",
            409,
            {
                "code": "conflict",
                "detail": "The change conflicts with the current data (another user or terminal "
                "may have changed it a moment ago). Reload and try again.",
            },
        ),
        ("http404", 404, {"code": "not_found", "detail": "Not found."}),
        (
            "django-permission",
            403,
            {
                "code": "permission_denied",
                "detail": "You do not have permission to perform this action.",
            },
        ),
    ],
)
def test_errors_have_one_body(api_client, operator, kind, status, body):
    api_client.force_authenticate(operator)
    response = api_client.get(f"/api/v1/test/errors/{kind}/")
    assert response.status_code == status
    assert response.json() == body


@test_urls
@pytest.mark.django_db
def test_unexpected_error_is_500_with_the_request_id(operator, caplog):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(operator)
    response = client.get("/api/v1/test/errors/unexpected/", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 500
    assert response.json() == {
        "code": "server_error",
        "detail": "Internal error: the request was not completed. Reference: req-42.",
    }
    assert "Internal Server Error: /api/v1/test/errors/unexpected/ (request req-42)" in caplog.text


@test_urls
@pytest.mark.django_db
def test_unexpected_error_still_reaches_the_test_client(api_client, operator):
    api_client.force_authenticate(operator)
    with pytest.raises(RuntimeError, match="boom"):
        api_client.get("/api/v1/test/errors/unexpected/")


@test_urls
@pytest.mark.django_db
def test_serializer_validation_is_400_with_errors_by_field(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post("/api/v1/test/quantity/", {"quantity": "-1"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_input",
        "detail": "Invalid input: quantity: Ensure this value is greater than or equal to 0.",
        "errors": {
            "quantity": ["Ensure this value is greater than or equal to 0."],
            "unit": ["This field is required."],
        },
    }


@test_urls
@pytest.mark.django_db
def test_malformed_json_is_400_parse_error(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post(
        "/api/v1/test/quantity/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("JSON parse error")


@pytest.mark.django_db
def test_wrong_method_is_405_with_the_error_body(api_client, operator):
    api_client.force_authenticate(operator)
    response = api_client.post("/api/v1/mes/me/")
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "detail": 'Method "POST" not allowed.'}


@test_urls
@pytest.mark.django_db
def test_unknown_record_is_404_with_the_error_body(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    response = api_client.get("/api/v1/test/user-records/999999/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


# --- GMP viewsets: no DELETE, void with a reason ------------------------------------------------


@test_urls
@pytest.mark.django_db
@pytest.mark.parametrize("route", ["/api/v1/test/user-records/{pk}/", "/api/v1/test/user-records/"])
def test_gmp_viewset_refuses_delete_with_405(api_client, admin_user, operator, route):
    api_client.force_authenticate(admin_user)
    response = api_client.delete(route.format(pk=operator.pk))
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "detail": DELETE_REFUSED_DETAIL}
    assert "DELETE" not in response["Allow"]
    assert User.objects.filter(pk=operator.pk, is_active=True).count() == 1


@test_urls
@pytest.mark.django_db
def test_gmp_viewset_refuses_anonymous_delete_with_401_first(operator):
    response = APIClient().delete(f"/api/v1/test/user-records/{operator.pk}/")
    assert response.status_code == 401
    assert User.objects.filter(pk=operator.pk, is_active=True).count() == 1


@test_urls
@pytest.mark.django_db
def test_void_needs_a_reason_and_writes_nothing_without(api_client, admin_user, operator):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/v1/test/user-records/{operator.pk}/void/", {"reason": " "}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_input",
        "detail": "Invalid input: reason: This field may not be blank.",
        "errors": {"reason": ["This field may not be blank."]},
    }
    operator.refresh_from_db()
    assert (operator.is_active, operator.deactivation_reason) == (True, "")


@test_urls
@pytest.mark.django_db
def test_void_calls_the_service_and_answers_the_record(api_client, admin_user, operator):
    api_client.force_authenticate(admin_user)
    response = api_client.post(
        f"/api/v1/test/user-records/{operator.pk}/void/",
        {"reason": "left the company"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": operator.pk,
        "username": "olivia.operator",
        "is_active": False,
        "deactivation_reason": "left the company",
    }
    operator.refresh_from_db()
    assert (operator.is_active, operator.deactivation_reason) == (False, "left the company")


@test_urls
@pytest.mark.django_db
def test_void_refused_by_the_service_is_its_domain_error(api_client, admin_user, operator):
    api_client.force_authenticate(admin_user)
    url = f"/api/v1/test/user-records/{operator.pk}/void/"
    api_client.post(url, {"reason": "left the company"}, format="json")
    response = api_client.post(url, {"reason": "again"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "code": "user_already_inactive",
        "detail": "olivia.operator is already deactivated.",
    }
    operator.refresh_from_db()
    assert operator.deactivation_reason == "left the company"


@test_urls
@pytest.mark.django_db
def test_void_refused_for_lack_of_permission_writes_nothing(api_client, operator, operator2):
    api_client.force_authenticate(operator)
    response = api_client.post(
        f"/api/v1/test/user-records/{operator2.pk}/void/", {"reason": "prank"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "code": "not_authorized",
        "detail": "You lack the permission to deactivate users (accounts.deactivate_user).",
    }
    operator2.refresh_from_db()
    assert (operator2.is_active, operator2.deactivation_reason) == (True, "")


# --- schema and docs ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_schema_generates_valid_without_warnings(tmp_path, capsys):
    """`manage.py spectacular --validate --fail-on-warn`: a failure names the views to fix."""
    target = tmp_path / "schema.yml"
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    except CommandError as exc:
        pytest.fail(f"{exc}:\n{capsys.readouterr().err}")
    text = target.read_text()
    assert text.startswith("openapi: 3.0.3\n")
    assert "/api/v1/mes/me/:" in text


@pytest.mark.django_db
def test_schema_is_served_to_authenticated_users_only(api_client, operator):
    assert api_client.get("/api/schema/").status_code == 401
    api_client.force_authenticate(operator)
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Open MES API"


@pytest.mark.django_db
def test_api_docs_are_served_from_the_sidecar_not_a_cdn(client, operator):
    client.force_login(operator)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">'
        in html
    )
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []


@pytest.mark.django_db
def test_api_docs_ask_anonymous_browsers_to_log_in(client):
    response = client.get("/api/docs/")
    assert response.status_code == 401
    html = response.content.decode()
    assert "Please log in first" in html
    assert 'href="/login/?next=/api/docs/"' in html


def test_schema_documents_the_error_body_on_every_operation():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(patterns=urlpatterns).get_schema(request=None, public=True)
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    me = schema["paths"]["/api/v1/mes/me/"]["get"]["responses"]
    assert sorted(me) == ["200", "401", "403"]
    void = schema["paths"]["/api/v1/test/user-records/{id}/void/"]["post"]["responses"]
    assert sorted(void) == ["200", "400", "401", "403", "404", "409"]
    assert void["409"]["content"] == error["content"]
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "detail"]
    # a GMP viewset offers no DELETE, even with a destroy mixed in
    assert "delete" not in schema["paths"]["/api/v1/test/user-records/{id}/"]


def test_enums_are_named_after_their_model_and_field():
    from mes.api.schema import model_enum_names

    names = model_enum_names()
    assert names["AreaKindEnum"] == [
        ("process", "Process (batch)"),
        ("discrete", "Discrete (assembly/packaging)"),
        ("warehouse", "Warehouse"),
        ("lab", "Laboratory"),
    ]
    assert names["SignatureMeaningEnum"][0] == ("authored", "Authored")
    # a choice set shared by several fields gets one name only
    assert "SignaturePolicyMeaningEnum" not in names
