"""`manage.py trace LOT --direction ...` prints the tree."""

import io

import pytest
from django.core.management import CommandError, call_command

from genealogy import services
from genealogy.tests.factories import MaterialFactory, received_lot

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    call_command("trace", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def diamond(operator):
    a = received_lot(
        quantity="100", lot_number="A", material=MaterialFactory(code="RAW"), actor=operator
    )
    b, c = services.lot_split(
        actor=operator, lot=a, quantities=["40", "60"], lot_numbers=["B", "C"]
    )
    d = services.lot_merge(actor=operator, lots=[b, c], quantities=["10", "20"], lot_number="D")
    return a, d


def test_forward_tree_prints_a_diamond_node_once_in_full(diamond):
    lines = _run("A", "--direction", "forward")

    assert lines == [
        "A (RAW, lot, quarantine, 0 kg left)",
        "  -> split 40 kg: B (RAW, sublot, quarantine, 30 kg left)",
        "    -> merged 10 kg: D (RAW, lot, quarantine, 30 kg left)",
        "  -> split 60 kg: C (RAW, sublot, quarantine, 40 kg left)",
        "    -> merged 20 kg: D (RAW) (see above)",
        "forward trace of A: 3 lot(s)/unit(s), 4 link(s).",
    ]


def test_backward_tree(diamond):
    lines = _run("D", "--direction", "backward")

    assert lines[0] == "D (RAW, lot, quarantine, 30 kg left)"
    assert lines[1:4] == [
        "  <- merged 10 kg: B (RAW, sublot, quarantine, 30 kg left)",
        "    <- split 40 kg: A (RAW, lot, quarantine, 0 kg left)",
        "  <- merged 20 kg: C (RAW, sublot, quarantine, 40 kg left)",
    ]
    assert lines[4] == "    <- split 60 kg: A (RAW) (see above)"


def test_unknown_lot_is_an_error(db):
    with pytest.raises(CommandError, match="No lot NOPE"):
        _run("NOPE")
