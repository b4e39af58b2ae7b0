"""mes.numbering: the next number of a series (shown on user names, a unique field of the
kernel; work orders, batch orders and schedules use the same issuer)."""

import pytest
from django.db import transaction

from mes.accounts.models import User
from mes.accounts.tests.factories import UserFactory
from mes.numbering import next_number, series_lock

pytestmark = pytest.mark.django_db


def test_first_number_of_a_series_is_one():
    with transaction.atomic():
        assert next_number(User, "username", "op-") == "op-00001"


def test_next_follows_the_highest_counter_and_ignores_names_that_are_not_counters():
    for name in ("op-00007", "op-00012", "op-night", "other-00099"):
        UserFactory(username=name)
    with transaction.atomic():
        assert next_number(User, "username", "op-") == "op-00013"
        assert next_number(User, "username", "op-", width=3) == "op-013"


@pytest.mark.django_db(transaction=True)
def test_the_lock_needs_a_transaction():
    with pytest.raises(RuntimeError, match="needs a transaction"):
        series_lock("WO-2026-")
