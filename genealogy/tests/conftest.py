"""Fixtures of the genealogy tests.

Other apps register consumption and shipment gates (quality: "released lots only"). These
tests are about genealogy itself, so every test starts with only the built-in gates; the
tests of the gate registry register their own."""

from typing import Any

import pytest

from genealogy import gates
from genealogy.tests.factories import ledger_state


@pytest.fixture(autouse=True)
def _only_builtin_gates(monkeypatch: Any) -> None:
    monkeypatch.setattr(gates, "_consumption_gates", [])
    monkeypatch.setattr(gates, "_shipment_gates", [])


@pytest.fixture
def unchanged() -> Any:
    """`state = unchanged()` before, `assert unchanged() == state` after a refusal."""
    return ledger_state
