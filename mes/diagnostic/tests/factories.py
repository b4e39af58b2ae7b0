"""Helpers of the self-audit tests (kernel only: no plant app is imported here)."""

from datetime import timedelta
from typing import Any

from django.test import RequestFactory
from django.utils import timezone

from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.diagnostic import services
from mes.esign.services import AuthenticatedSigner, signer_authenticate
from mes.registry import Period


def period(days: int = 30) -> Period:
    return services.last_days(days, now=timezone.now() + timedelta(minutes=1))


def sign_as(user: Any, password: str = DEFAULT_PASSWORD) -> AuthenticatedSigner:
    """What the signing form does: user ID and password, outside any transaction."""
    request = RequestFactory().post("/diagnostic/sign/", REMOTE_ADDR="10.9.8.7")
    request.user = user
    return signer_authenticate(
        request=request, actor=user, username=user.get_username(), password=password
    )


def item(assessment: Any, key: str) -> dict:
    return next(i for i in assessment.items if i["key"] == key)


def symptom(assessment: Any, key: str) -> str:
    return next(s["state"] for s in assessment.symptoms if s["key"] == key)
