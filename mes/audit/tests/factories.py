"""Factories of the audit tests: platform GMP records (groups, security events, tokens).
Plant records (equipment.Site) are used by the cross-app tests in tests/test_audit_*.py."""

import factory
from django.contrib.auth.models import Group

from mes.accounts.models import SecurityEvent


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Audit test group {n}")


class SecurityEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SecurityEvent

    type = SecurityEvent.Type.LOGIN_FAILED
    username = "mallory"
