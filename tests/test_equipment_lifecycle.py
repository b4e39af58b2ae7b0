"""A reactor's life as the other apps and people see it: cleaned and verified on the API,
used by batches (the calls batches make), counted, due for preventive maintenance by batch
count (Celery beat), maintained, dirty again, cleaned, usable."""

import pytest
from guardian.shortcuts import assign_perm

from equipment import services
from equipment.exceptions import EquipmentNotUsable
from equipment.models import MaintenanceWorkOrder, Unit
from equipment.tasks import generate_preventive_maintenance
from equipment.tests.factories import UnitFactory
from mes.accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/equipment"


def _post(client, user, path, data=None):
    client.force_authenticate(user)
    return client.post(f"{BASE}{path}", data or {}, format="json")


def test_reactor_lifecycle(api_client, operator, supervisor, maintenance_user, integration_user):
    UserFactory(username="celery", is_system=True)
    reactor = UnitFactory(code="R-101", capabilities=["glass-lined"])
    for user in (operator, supervisor):
        assign_perm("equipment.operate_in_area", user, reactor.area)
    services.maintenance_plan_create(
        actor=UserFactory(username="celery"),
        unit=reactor,
        code="PM-R101-GASKET",
        name="Gasket replacement",
        trigger="batches",
        interval_batches=2,
    )

    def clean_and_verify():
        assert _post(api_client, operator, f"/units/{reactor.pk}/record-cleaning/",
                     {"cleaning_type": "major"}).status_code == 201  # fmt: skip
        assert (
            _post(api_client, supervisor, f"/units/{reactor.pk}/verify-cleaning/").status_code
            == 201
        )

    for n in (1, 2):
        clean_and_verify()
        services.unit_check_usable(reactor, product_code="RES-100")
        services.unit_start_use(
            actor=operator, unit=reactor, batch_ref=f"RB-{n}", product_code="RES-100"
        )
        services.unit_end_use(actor=operator, unit=reactor, batch_ref=f"RB-{n}")
        assert _post(api_client, integration_user, f"/units/{reactor.pk}/record-usage/",
                     {"hours": "4", "batches": 1, "ref": f"RB-{n}"}).status_code == 200  # fmt: skip
        with pytest.raises(EquipmentNotUsable) as dirty:
            services.unit_check_usable(reactor, product_code="RES-100")
        assert dirty.value.reason_codes == ["cleaning_required"]

    assert generate_preventive_maintenance.apply().get() == ["MWO-000001"]
    order = MaintenanceWorkOrder.objects.get()
    assert (order.kind, order.batch_count_at_creation) == ("preventive", 2)

    clean_and_verify()
    assert (
        _post(api_client, maintenance_user, f"/maintenance-work-orders/{order.pk}/start/").json()[
            "status"
        ]
        == "in_progress"
    )
    with pytest.raises(EquipmentNotUsable) as maintained:
        services.unit_check_usable(Unit.objects.get(pk=reactor.pk))
    assert maintained.value.reason_codes == ["unit_in_maintenance"]

    _post(api_client, maintenance_user, f"/maintenance-work-orders/{order.pk}/complete/")
    reactor.refresh_from_db()
    assert reactor.status == "available"
    with pytest.raises(EquipmentNotUsable) as after:
        services.unit_check_usable(reactor)
    assert after.value.reason_codes == ["cleaning_required"]

    clean_and_verify()
    services.unit_check_usable(reactor, product_code="RES-100", min_volume_l=2000,
                               capabilities=["glass-lined"])  # fmt: skip
    assert generate_preventive_maintenance.apply().get() == []
    assert (float(reactor.hours_run), reactor.batch_count) == (8.0, 2)
