import pytest
from django.test import RequestFactory

from mes.accounts.roles import Role
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Meaning
from mes.esign.services import signature_policy_set, signer_authenticate
from mes.esign.tests.factories import SiteFactory

TERMINAL_IP = "10.20.30.40"


@pytest.fixture
def site(db):
    return SiteFactory(code="BRN", name="Bern plant")


@pytest.fixture
def approval_policy(db):
    """QA approves sites; the author may not approve."""
    return signature_policy_set(
        actor=None,
        model="equipment.Site",
        meaning=Meaning.APPROVED,
        roles=[Role.QA_REVIEWER.value],
        author_may_sign=True,
    )


@pytest.fixture
def make_request():
    def make(user, ip=TERMINAL_IP, path="/sign/"):
        request = RequestFactory().post(path, REMOTE_ADDR=ip)
        request.user = user
        return request

    return make


@pytest.fixture
def authenticate_signer(make_request):
    """signer_authenticate for `user` with the right password, from TERMINAL_IP."""

    def auth(user, *, username=None, password=DEFAULT_PASSWORD, ip=TERMINAL_IP):
        return signer_authenticate(
            request=make_request(user, ip=ip),
            actor=user,
            username=user.username if username is None else username,
            password=password,
        )

    return auth
