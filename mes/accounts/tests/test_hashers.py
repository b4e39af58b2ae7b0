"""Password hashing: Argon2id first, tuned near 100 ms per verification
(benchmarks/password_hash.py)."""

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from mes.accounts.hashers import MesArgon2PasswordHasher
from mes.settings import base

MES_HASHERS = ["mes.accounts.hashers.MesArgon2PasswordHasher"]


def test_base_settings_use_the_tuned_argon2_first():
    assert base.PASSWORD_HASHERS[0] == "mes.accounts.hashers.MesArgon2PasswordHasher"


def test_tuned_parameters():
    hasher = MesArgon2PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 102400, 2)


def test_hash_is_argon2id_with_the_tuned_parameters(settings):
    settings.PASSWORD_HASHERS = MES_HASHERS
    encoded = make_password("correct-horse-battery-9")
    assert encoded.startswith("argon2$argon2id$v=19$m=102400,t=2,p=2$")
    assert isinstance(identify_hasher(encoded), MesArgon2PasswordHasher)
    assert check_password("correct-horse-battery-9", encoded) is True
    assert check_password("wrong", encoded) is False


@pytest.mark.django_db
def test_weaker_hash_is_upgraded_at_next_login(settings):
    from mes.accounts.tests.factories import UserFactory

    settings.PASSWORD_HASHERS = [*MES_HASHERS, "django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="old.hash")
    user.password = make_password("correct-horse-battery-9", hasher="md5")
    user.save(update_fields=["password"])

    assert user.check_password("correct-horse-battery-9") is True
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=102400,t=2,p=2$")
