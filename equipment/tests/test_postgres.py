"""Races between terminals, on PostgreSQL (row locks and constraints decide, not luck)."""

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from equipment import services
from equipment.models import Unit, UnitLogEntry
from equipment.tests.conftest import HOUR, clean
from equipment.tests.factories import UnitFactory
from mes.accounts.roles import ALL_ROLES, Role
from mes.accounts.tests.factories import UserFactory
from mes.exceptions import DomainError
from mes.testing import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(transactional_db):
    """Roles and their equipment rights as the migrations made them (an earlier
    transactional test may have flushed them), and three people."""
    grants = importlib.import_module("equipment.migrations.0003_role_permissions").GRANTS
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="equipment", codename__in=grants.get(role, [])
            )
        )
    return (
        UserFactory(username="olivia.operator", roles=[Role.OPERATOR.value]),
        UserFactory(username="oscar.operator", roles=[Role.OPERATOR.value]),
        UserFactory(username="sam.supervisor", roles=[Role.SUPERVISOR.value]),
    )


def test_two_batches_cannot_start_on_one_unit(people):
    operator, operator2, supervisor = people
    unit = UnitFactory(code="R-101")
    clean(unit, by=operator, verified_by=supervisor, at=timezone.now() - 2 * HOUR)

    results = race(
        lambda: services.unit_start_use(
            actor=operator, unit=unit, batch_ref="RB-1", product_code="RES-100"
        ),
        lambda: services.unit_start_use(
            actor=operator2, unit=unit, batch_ref="RB-2", product_code="RES-100"
        ),
    )

    refusals = [r for r in results if isinstance(r, DomainError)]
    winners = [r for r in results if isinstance(r, Unit)]
    assert len(winners) == 1
    assert len(refusals) == 1
    assert refusals[0].reason_codes == ["unit_in_use"]
    assert UnitLogEntry.objects.filter(type="use.started").count() == 1
    assert Unit.objects.get(pk=unit.pk).status == "in_use"


def test_a_cleaning_is_verified_once_under_arace(people):
    operator, operator2, supervisor = people
    unit = UnitFactory(code="R-101")
    services.unit_record_cleaning(actor=operator, unit=unit, cleaning_type="major")

    results = race(
        lambda: services.unit_verify_cleaning(actor=operator2, unit=unit),
        lambda: services.unit_verify_cleaning(actor=supervisor, unit=unit),
    )

    codes = sorted(r.code if isinstance(r, DomainError) else "verified" for r in results)
    assert codes == ["already_verified", "verified"]
    assert UnitLogEntry.objects.filter(type="cleaning.verified").count() == 1
