"""Factories of work orders. Master data (materials, work centers, reason codes) are plain rows;
BOMs, routings and work orders are made THROUGH the services (approval is a signature)."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.test import RequestFactory
from django.utils import timezone

from equipment.models import Area
from equipment.tests.factories import AreaFactory, WorkCenterFactory
from genealogy import services as genealogy
from genealogy.choices import LotStatus, MaterialKind, UnitOfMeasure
from genealogy.tests.factories import MaterialFactory, SerializedMaterialFactory
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.services import AuthenticatedSigner, signer_authenticate
from workorders import services
from workorders.choices import CharacteristicKind, ReasonKind, TimeBasis
from workorders.models import ReasonCode


class ReasonCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReasonCode
        django_get_or_create = ("kind", "code")

    kind = ReasonKind.SCRAP
    code = "DMG"
    name = "Damaged"


def sign_as(user: Any) -> AuthenticatedSigner:
    """What a view does: the user enters user ID and password (outside any transaction)."""
    request = RequestFactory().post("/workorders/sign/", REMOTE_ADDR="10.4.5.6")
    request.user = user
    return signer_authenticate(
        request=request, actor=user, username=user.get_username(), password=DEFAULT_PASSWORD
    )


def released(lot: Any, actor: Any) -> Any:
    """Test setup: QA's release of a component lot (quality calls this service)."""
    return genealogy.lot_set_status(
        actor=actor, lot=lot, status=LotStatus.RELEASED, reason="released for the test"
    )


def discrete_area() -> Area:
    return AreaFactory(code="PK", kind=Area.Kind.DISCRETE)


def work_centers() -> dict[str, Any]:
    area = discrete_area()
    names = {"ASM": "Assembly", "FIL": "Filling", "LBL": "Labelling", "QC": "Inspection"}
    return {
        key: WorkCenterFactory(area=area, code=f"PK-{key}", name=name)
        for key, name in names.items()
    }


def kit_materials() -> dict[str, Any]:
    return {
        "kit": SerializedMaterialFactory(code="KIT-20", name="Resin pail kit"),
        "pail": SerializedMaterialFactory(
            code="PAIL-20", name="Filled pail", kind=MaterialKind.INTERMEDIATE
        ),
        "label": MaterialFactory(
            code="LBL-20", name="Label", kind=MaterialKind.PACKAGING, uom=UnitOfMeasure.EACH
        ),
        "box": MaterialFactory(
            code="BOX-20", name="Lot box", kind=MaterialKind.FINISHED, uom=UnitOfMeasure.EACH
        ),
    }


def kit_operations(centers: dict[str, Any]) -> list[dict[str, Any]]:
    """Five operations; 20 consumes the pail (a serial), 30 two labels, 40 inspects."""
    return [
        {
            "seq": 10,
            "name": "Prepare",
            "work_center": centers["ASM"],
            "setup_minutes": "30",
            "run_minutes_per_unit": "2",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
        },
        {
            "seq": 20,
            "name": "Assemble",
            "work_center": centers["ASM"],
            "setup_minutes": "0",
            "run_minutes_per_unit": "6",
            "time_basis": TimeBasis.BOTH,
            "crew_size": 2,
            "alternative_work_centers": [centers["FIL"]],
        },
        {
            "seq": 30,
            "name": "Label",
            "work_center": centers["LBL"],
            "setup_minutes": "12",
            "run_minutes_per_unit": "1.5",
            "time_basis": TimeBasis.MACHINE,
            "crew_size": 1,
        },
        {
            "seq": 40,
            "name": "Inspect",
            "work_center": centers["QC"],
            "setup_minutes": "0",
            "run_minutes_per_unit": "3",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
            "characteristics": [
                {"name": "Seal intact", "kind": CharacteristicKind.PASS_FAIL},
                {
                    "name": "Lid torque",
                    "kind": CharacteristicKind.MEASURED,
                    "lower_limit": "2.0",
                    "upper_limit": "4.0",
                    "unit": "N·m",
                    "spc_key": "kit-lid-torque",
                },
            ],
        },
        {
            "seq": 50,
            "name": "Pack",
            "work_center": centers["LBL"],
            "setup_minutes": "6",
            "run_minutes_per_unit": "1",
            "time_basis": TimeBasis.LABOR,
            "crew_size": 1,
        },
    ]


def approved_versions(
    *,
    item: Any,
    lines: list[dict[str, Any]],
    operations: list[dict[str, Any]],
    author: Any,
    approver: Any,
    effective_from: date | None = None,
) -> tuple[Any, Any]:
    start = effective_from or timezone.localdate() - timedelta(days=1)
    bom = services.bom_create(actor=author, item=item, effective_from=start, lines=lines)
    routing = services.routing_create(
        actor=author, item=item, effective_from=start, operations=operations
    )
    bom = services.bom_approve(actor=approver, bom=bom, signer=sign_as(approver))
    routing = services.routing_approve(actor=approver, routing=routing, signer=sign_as(approver))
    return bom, routing


def q(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.000001"))
