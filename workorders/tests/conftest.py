"""Fixtures of the work-order tests: the packaging line (work centers, a serialized kit with
an approved BOM and routing, released component lots) and people granted its area."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from genealogy.tests.factories import received_lot
from workorders import services
from workorders.choices import ReasonKind, SerialIssue
from workorders.tests.factories import (
    ReasonCodeFactory,
    approved_versions,
    kit_materials,
    kit_operations,
    released,
    work_centers,
)


@pytest.fixture
def line(db, planner, supervisor, qa_user, operator, operator2):
    centers = work_centers()
    area = centers["ASM"].area
    for person in (operator, operator2):
        assign_perm("equipment.operate_in_area", person, area)
    materials = kit_materials()
    bom, routing = approved_versions(
        item=materials["kit"],
        lines=[
            {"component": materials["pail"], "quantity_per": "1", "operation_seq": 20},
            {
                "component": materials["label"],
                "quantity_per": "2",
                "scrap_factor": "0.05",
                "operation_seq": 30,
            },
        ],
        operations=kit_operations(centers),
        author=planner,
        approver=qa_user,
    )
    for key, labor, machine in (("ASM", "40", "25"), ("LBL", "35", "60"), ("QC", "50", "0")):
        services.work_center_rate_set(
            actor=planner, work_center=centers[key], labor_rate=labor, machine_rate=machine
        )
    pails = [
        released(
            received_lot(material=materials["pail"], quantity=1, lot_number=f"PS-{n:03d}"),
            supervisor,
        )
        for n in range(1, 6)
    ]
    labels = released(
        received_lot(material=materials["label"], quantity=100, lot_number="LBL-LOT-1"),
        supervisor,
    )
    quarantined_labels = received_lot(
        material=materials["label"], quantity=100, lot_number="LBL-LOT-Q"
    )
    return SimpleNamespace(
        centers=centers,
        area=area,
        bom=bom,
        routing=routing,
        pails=pails,
        labels=labels,
        quarantined_labels=quarantined_labels,
        scrap=ReasonCodeFactory(kind=ReasonKind.SCRAP, code="DMG", name="Damaged"),
        rework=ReasonCodeFactory(kind=ReasonKind.REWORK, code="RESEAL", name="Reseal the lid"),
        downtime=ReasonCodeFactory(kind=ReasonKind.DOWNTIME, code="JAM", name="Jam"),
        **materials,
    )


@pytest.fixture
def box_routing(line, planner, qa_user):
    """BOX-20, lot-made, approved: op 10 (labor) and op 20 (labor and machine, consumes
    labels)."""
    ops = kit_operations(line.centers)
    approved_versions(
        item=line.box,
        lines=[{"component": line.label, "quantity_per": "1", "operation_seq": 20}],
        operations=[ops[0], ops[1]],
        author=planner,
        approver=qa_user,
    )


@pytest.fixture
def released_wo(line, planner):
    wo = services.work_order_create(
        actor=planner,
        item=line.kit,
        quantity=3,
        due_date=timezone.localdate() + timedelta(days=3),
        serial_pattern="KIT-{yyyy}-{seq:05d}",
        serial_issue=SerialIssue.AT_RELEASE,
    )
    return services.work_order_release(actor=planner, work_order=wo)


def op(wo, seq):
    return wo.operations.get(seq=seq)
