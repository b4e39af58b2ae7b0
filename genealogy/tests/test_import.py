"""import_genealogy: a good file loads in one go; a bad file is refused with the line and the
reason, and nothing of it is loaded."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from genealogy import selectors, services
from genealogy.choices import MaterialKind
from genealogy.exceptions import ImportRefused
from genealogy.models import Link, Lot, LotEvent
from genealogy.tests.factories import MaterialFactory, SerializedMaterialFactory, q, received_lot
from mes.exceptions import NotAuthorized

pytestmark = pytest.mark.django_db

HEADER = (
    "event_type,lot_number,material_code,quantity,uom,parent_lot_numbers,into_lot_number,"
    "supplier,supplier_lot,customer,shipment_ref,occurred_at,reference_kind,reference,"
    "reference_url,status,reason\n"
)
T = "2024-03-01T08:00:00+00:00"
GOOD = HEADER + (
    f"receive,STY-1,STY,1000,kg,,,Styrolution,SLN-1,,,{T},,,,released,\n"
    f"receive,BPO-1,BPO,50000,g,,,Nouryon,NRY-1,,,{T},,,,released,\n"
    f"receive,PAIL-1,PAIL,100,ea,,,Mauser,MP-1,,,{T},,,,,\n"
    f'produce,RES-1,RES,1200,kg,"STY-1=900;BPO-1=8",,,,,,{T},batch,B-1001,/batches/B-1001/,,\n'
    f"split,RES-1-01,RES,400,kg,RES-1,,,,,,{T},,,,,\n"
    f"split,RES-1-02,RES,400,kg,RES-1@RES=400,,,,,,{T},,,,,\n"
    f'merge,RES-M1,RES,,kg,"RES-1-01=100;RES-1-02=100",,,,,,{T},,,,,\n'
    f'unit,PSP-1,PAIL-RES,,,"RES-1-01=20;PAIL-1=1",,,,,,{T},packaging,B-1001/pack,,,\n'
    f'unit,PSP-2,PAIL-RES,,,"RES-1-01=20;PAIL-1=1",,,,,,{T},packaging,B-1001/pack,,,\n'
    f"consume,STY-1,STY,10,kg,,,,,,,{T},batch_phase,B-1002/phase 1,,,\n"
    f"ship,PSP-1,PAIL-RES,,,,,,,Acme,SH-1,{T},,,,,\n"
    f"adjust,STY-1,STY,-0.5,kg,,,,,,,{T},,,,,recount\n"
    f"rework,RES-RW1,RES,50,kg,RES-M1=50,,,,,,{T},batch,RW-1,,,\n"
)


@pytest.fixture
def materials(db):
    return {
        "STY": MaterialFactory(code="STY"),
        "BPO": MaterialFactory(code="BPO"),
        "PAIL": MaterialFactory(code="PAIL", uom="ea", kind=MaterialKind.PACKAGING),
        "RES": MaterialFactory(code="RES", kind=MaterialKind.FINISHED),
        "PAIL-RES": SerializedMaterialFactory(code="PAIL-RES"),
    }


@pytest.fixture
def write(tmp_path):
    def make(text: str, name: str = "history.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def run(path: Path, user) -> object:
    return services.genealogy_import(actor=user, path=path)


def test_a_good_file_loads_lots_events_and_links(materials, write, admin_user):
    result = run(write(GOOD), admin_user)

    assert (result.lines, result.lots_created, result.units_created, result.lots_updated) == (
        13,
        8,
        2,
        0,
    )
    quantities = dict(Lot.objects.values_list("lot_number", "quantity"))
    assert quantities == {
        "STY-1": q("89.5"),
        "BPO-1": q(42),
        "PAIL-1": q(98),
        "RES-1": q(400),
        "RES-1-01": q(260),
        "RES-1-02": q(300),
        "RES-M1": q(150),
        "PSP-1": q(0),
        "PSP-2": q(1),
        "RES-RW1": q(50),
    }
    assert selectors.lots_with_ledger_mismatch() == []
    statuses = dict(Lot.objects.values_list("lot_number", "status"))
    assert (statuses["STY-1"], statuses["PAIL-1"], statuses["RES-1-01"]) == (
        "released",
        "quarantine",
        "quarantine",
    )
    sub = Lot.objects.get(lot_number="RES-1-02")
    assert (sub.kind, sub.parent_lot.lot_number) == ("sublot", "RES-1")
    assert result.links == Link.objects.count() == 2 + 2 + 2 + 2 + 2 + 1
    assert result.events == LotEvent.objects.count()
    rework = Link.objects.get(child__lot_number="RES-RW1")
    assert (rework.kind, rework.parent.lot_number, rework.context_ref) == (
        "reworked",
        "RES-M1",
        "RW-1",
    )
    shipped = LotEvent.objects.get(type="lot.shipped")
    assert (shipped.customer, shipped.shipment_ref, shipped.data) == ("Acme", "SH-1", {"line": 12})
    assert {e.actor for e in LotEvent.objects.all()} == {admin_user}
    trace = selectors.lot_trace_backward(lot=Lot.objects.get(lot_number="PSP-1"))
    assert sorted(n.lot_number for n in trace.nodes.values()) == [
        "BPO-1",
        "PAIL-1",
        "PSP-1",
        "RES-1",
        "RES-1-01",
        "STY-1",
    ]
    assert Lot.history.filter(history_type="+").count() == 10


def test_a_file_can_build_on_lots_in_the_database(materials, write, admin_user, operator):
    received_lot(material=materials["STY"], lot_number="STY-0", quantity="100", actor=operator)
    text = HEADER + f"produce,RES-9,RES,80,kg,STY-0=80,,,,,,{T},batch,B-9,,,\n"

    result = run(write(text), admin_user)

    assert (result.lots_created, result.lots_updated) == (1, 1)
    assert Lot.objects.get(lot_number="STY-0").quantity == q(20)
    assert Lot.history.filter(lot_number="STY-0", history_type="~").count() == 1
    assert selectors.lots_with_ledger_mismatch() == []


REFUSALS = [
    ("event_type,lot_number\n", 1, "missing required column(s): material_code, occurred_at"),
    (HEADER.replace("reason", "reasons"), 1, "unknown column(s): reasons"),
    (HEADER, 2, "the file has no event lines"),
    (HEADER + f"receive,X-1,NOPE,1,kg,,,S,L,,,{T},,,,,\n", 2, "unknown material 'NOPE'"),
    (
        HEADER + "receive,X-1,STY,1,kg,,,S,L,,,2024-03-01T08:00:00,,,,,\n",
        2,
        "occurred_at '2024-03-01T08:00:00' has no time zone",
    ),
    (HEADER + f"receive,X-1,STY,1,L,,,S,L,,,{T},,,,,\n", 2, "cannot convert L to kg"),
    (
        HEADER + f"receive,X-1,STY,1.0000001,kg,,,S,L,,,{T},,,,,\n",
        2,
        "quantity '1.0000001' is not a finite number of at most 6 decimal places",
    ),
    (
        HEADER + f"receive,X-1,STY,1,kg,,,,L,,,{T},,,,,\n",
        2,
        "receive needs supplier and supplier_lot",
    ),
    (HEADER + f"explode,X-1,STY,1,kg,,,,,,,{T},,,,,\n", 2, "unknown event_type 'explode'"),
    (
        HEADER
        + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nconsume,X-1,STY,6,kg,,,,,,,{T},batch_phase,B-1,,,\n",
        3,
        "lot X-1 holds 5.000000 kg; 6.000000 cannot be taken",
    ),
    (
        HEADER + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nreceive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\n",
        3,
        "STY lot X-1 already exists",
    ),
    (
        HEADER + f'produce,R-1,RES,5,kg,"GHOST=1",,,,,,{T},batch,B-1,,,\n',
        2,
        "no lot GHOST (in the database or above)",
    ),
    (
        HEADER
        + f'receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nmerge,M-1,RES,,kg,"X-1=1;X-1=2",,,,,,{T},,,,,\n',
        3,
        "parent X-1 is listed twice",
    ),
    (
        HEADER
        + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nreceive,X-2,STY,5,kg,,,S,L,,,{T},,,,,\n"
        + f'merge,M-1,STY,9,kg,"X-1=5;X-2=5",,,,,,{T},,,,,\n',
        4,
        "quantity 9.000000 differs from the sum of the parents 10.000000",
    ),
    (HEADER + f"unit,S-1,STY,,,,,,,,,{T},,,,,\n", 2, "STY is not serialized: use produce"),
    (
        HEADER + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nship,X-1,STY,1,kg,,,,,Acme,,{T},,,,,\n",
        3,
        "ship needs customer and shipment_ref",
    ),
    (
        HEADER + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nadjust,X-1,STY,1,kg,,,,,,,{T},,,,,\n",
        3,
        "adjust needs a reason",
    ),
    (
        HEADER + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nsplit,X-1-1,RES,1,kg,X-1,,,,,,{T},,,,,\n",
        3,
        "a sub-lot has the material of its source lot",
    ),
    (
        HEADER + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,,\n",
        2,
        "18 field(s) where the header has 17",
    ),
    (
        HEADER
        + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nreceive,X-1,RES,5,kg,,,S,L,,,{T},,,,,\n"
        + f"consume,X-1,STY,1,kg,,,,,,,{T},batch_phase,B-1,,,\n"
        + f'produce,P-1,RES,1,kg,"X-1=1",,,,,,{T},batch,B-1,,,\n',
        5,
        "lot number X-1 exists for several materials: write X-1@MATERIAL",
    ),
    (
        HEADER
        + f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\nconsume,X-1,STY,1,kg,,,,,,,{T},batch_phase,B-1,javascript:x,,\n",
        3,
        "reference_url must be a path or an http(s) address",
    ),
]


@pytest.mark.parametrize(("text", "line", "reason"), REFUSALS)
def test_a_bad_file_is_refused_with_its_line_and_nothing_is_loaded(
    materials, write, admin_user, unchanged, text, line, reason
):
    before = unchanged()

    with pytest.raises(ImportRefused) as refused:
        run(write(text), admin_user)

    assert (refused.value.line, refused.value.reason) == (line, reason)
    assert refused.value.detail == f"line {line}: {reason}"
    assert unchanged() == before


def test_a_bad_last_line_refuses_the_whole_file(materials, write, admin_user, unchanged):
    text = GOOD + f"ship,PSP-1,PAIL-RES,,,,,,,Acme,SH-2,{T},,,,,\n"
    before = unchanged()

    with pytest.raises(ImportRefused, match="line 15: lot PSP-1 has nothing to ship"):
        run(write(text), admin_user)
    assert unchanged() == before
    assert Lot.history.count() == 0


def test_a_consumption_that_closes_a_cycle_is_refused(materials, write, admin_user, unchanged):
    text = HEADER + (
        f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\n"
        f"split,X-1-1,STY,2,kg,X-1,,,,,,{T},,,,,\n"
        f"consume,X-1-1,STY,1,kg,,X-1,,,,,{T},batch_phase,B-1,,,\n"
    )
    before = unchanged()

    with pytest.raises(ImportRefused) as refused:
        run(write(text), admin_user)

    assert refused.value.detail == (
        "line 4: consuming X-1-1 into X-1 makes a cycle: X-1 is already an ancestor of X-1-1"
    )
    assert unchanged() == before


def test_a_consumption_that_closes_a_cycle_through_the_database_is_refused(
    materials, write, admin_user, operator, unchanged
):
    raw = received_lot(material=materials["STY"], lot_number="DB-1", quantity="10", actor=operator)
    services.lot_split(actor=operator, lot=raw, quantities=["4"], lot_numbers=["DB-1-1"])
    text = HEADER + f"consume,DB-1-1,STY,1,kg,,DB-1,,,,,{T},batch_phase,B-1,,,\n"
    before = unchanged()

    with pytest.raises(ImportRefused, match="line 2: consuming DB-1-1 into DB-1 makes a cycle"):
        run(write(text), admin_user)
    assert unchanged() == before


def test_a_consumption_into_an_unrelated_lot_is_linked(materials, write, admin_user):
    text = HEADER + (
        f"receive,X-1,STY,5,kg,,,S,L,,,{T},,,,,\n"
        f"receive,P-1,RES,5,kg,,,S,L,,,{T},,,,,\n"
        f"consume,X-1,STY,2,kg,,P-1,,,,,{T},batch_phase,B-1,,,\n"
    )

    run(write(text), admin_user)

    link = Link.objects.get()
    assert (link.parent.lot_number, link.child.lot_number, link.kind, link.quantity) == (
        "X-1",
        "P-1",
        "consumed",
        q(2),
    )


def test_dry_run_validates_and_writes_nothing(materials, write, admin_user, unchanged):
    before = unchanged()

    result = services.genealogy_import(actor=admin_user, path=write(GOOD), dry_run=True)

    assert (result.dry_run, result.lines, result.lots_created) == (True, 13, 8)
    assert unchanged() == before


def test_only_an_administrator_imports(materials, write, operator, unchanged):
    before = unchanged()

    with pytest.raises(NotAuthorized, match="may not import genealogy history"):
        run(write(GOOD), operator)
    assert unchanged() == before


def test_the_command_loads_a_file_and_reports(materials, write, admin_user):
    out = io.StringIO()

    call_command("import_genealogy", str(write(GOOD)), "--user", admin_user.username, stdout=out)

    assert "13 line(s) loaded: 8 lot(s) and 2 unit(s) created" in out.getvalue()
    assert Lot.objects.count() == 10


def test_the_command_refuses_a_bad_file_with_the_line(materials, write, unchanged):
    before = unchanged()

    with pytest.raises(
        CommandError, match="refused, nothing loaded: line 2: unknown material 'NOPE'"
    ):
        call_command(
            "import_genealogy", str(write(HEADER + f"receive,X,NOPE,1,kg,,,S,L,,,{T},,,,,\n"))
        )
    assert unchanged() == before


def test_the_command_documents_the_format(capsys):
    with pytest.raises(SystemExit):
        call_command("import_genealogy", "--help")
    text = capsys.readouterr().out
    assert "parent_lot_numbers" in text
    assert "LOT[@MATERIAL]=QUANTITY" in text
