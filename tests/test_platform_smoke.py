import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse

from mes.accounts.roles import ALL_ROLES

pytestmark = pytest.mark.django_db

PLANT_APPS = [
    "genealogy",
    "equipment",
    "quality",
    "recipes",
    "workorders",
    "batches",
    "scheduling",
    "erp_connectors",
]


def test_every_plant_app_is_registered():
    labels = {cfg.label for cfg in apps.get_app_configs()}
    assert set(PLANT_APPS) <= labels


def test_roles_are_created_by_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ALL_ROLES)


def test_health_check_answers(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_home_needs_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_api_requires_authentication(api_client):
    response = api_client.get("/api/v1/mes/me/")
    assert response.status_code in (401, 403)
    assert set(response.json()) >= {"code", "detail"}


def test_api_me_shows_roles(api_client, qa_user):
    api_client.force_authenticate(qa_user)
    response = api_client.get("/api/v1/mes/me/")
    assert response.status_code == 200
    assert response.json()["roles"] == ["QA Reviewer"]
