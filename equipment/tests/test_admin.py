"""Master data in the admin; records (logbook, calibrations, events, orders) read-only."""

import pytest

from equipment.tests.factories import UnitFactory

pytestmark = pytest.mark.django_db

MASTER_DATA = [
    "site",
    "area",
    "equipmentclass",
    "capability",
    "processcell",
    "workcenter",
    "unit",
    "instrument",
    "cleaningrule",
    "maintenanceplan",
]
RECORDS = ["maintenanceworkorder", "calibrationrecord", "unitlogentry", "equipmentevent"]


@pytest.mark.parametrize("model", MASTER_DATA + RECORDS)
def test_changelist_opens(client, admin_user, model):
    UnitFactory()
    client.force_login(admin_user)
    assert client.get(f"/admin/equipment/{model}/").status_code == 200


@pytest.mark.parametrize("model", MASTER_DATA)
def test_master_data_can_be_added(client, admin_user, model):
    client.force_login(admin_user)
    assert client.get(f"/admin/equipment/{model}/add/").status_code == 200


@pytest.mark.parametrize("model", RECORDS)
def test_records_cannot_be_added(client, admin_user, model):
    client.force_login(admin_user)
    assert client.get(f"/admin/equipment/{model}/add/").status_code == 403


def test_unit_status_is_read_only_in_the_admin(client, admin_user):
    unit = UnitFactory()
    client.force_login(admin_user)
    html = client.get(f"/admin/equipment/unit/{unit.pk}/change/").content.decode()
    assert 'name="status"' not in html
    assert 'name="hours_run"' not in html
    assert 'name="working_volume_l"' in html


def test_new_usage_plan_counts_from_the_unit_counter(client, admin_user):
    from equipment import services
    from equipment.models import MaintenancePlan

    unit = UnitFactory()
    services.unit_record_usage(actor=admin_user, unit=unit, batches=12)
    client.force_login(admin_user)
    response = client.post(
        "/admin/equipment/maintenanceplan/add/",
        {
            "code": "PM-1",
            "name": "Gaskets",
            "unit": unit.pk,
            "trigger": "batches",
            "interval_batches": 5,
            "lead_days": 0,
            "requires_cleaning_after": "on",
            "starts_at_0": "2026-01-01",
            "starts_at_1": "00:00:00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    assert MaintenancePlan.objects.get().batches_at_last_completion == 12
