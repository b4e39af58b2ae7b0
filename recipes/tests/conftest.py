import pytest

from mes.accounts.roles import Role


@pytest.fixture
def author2(db):
    from mes.accounts.tests.factories import UserFactory

    return UserFactory(
        username="ralf.author", roles=[Role.RECIPE_AUTHOR.value], full_name="Ralf Author"
    )


@pytest.fixture
def author_and_qa(db):
    """Someone holding both roles (may author, may review, but never their own version)."""
    from mes.accounts.tests.factories import UserFactory

    return UserFactory(
        username="bea.both",
        roles=[Role.RECIPE_AUTHOR.value, Role.QA_REVIEWER.value],
        full_name="Bea Both",
    )
