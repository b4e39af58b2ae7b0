"""Fixtures of the quality tests: a material with an approved specification, lots, signers."""

import pytest

from genealogy.tests.factories import MaterialFactory
from mes.audit.testing import trail  # noqa: F401  (the audit events a test wrote)
from quality.tests.factories import approved_spec


@pytest.fixture
def material(db):
    return MaterialFactory(code="API-100", name="Active ingredient")


@pytest.fixture
def spec(material):
    return approved_spec(material=material)
