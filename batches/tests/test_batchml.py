"""The batch record as BatchML (B2MML BatchProductionRecord): parsed back, well-formed, in the
B2MML namespace, every phase and every value present, corrections in the change history."""

from xml.etree import ElementTree as ET

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from batches import batchml, ebr, services
from batches.models import ParameterValue, PhaseExecution
from batches.tests import factories as f
from batches.tests.test_services import run_batch

pytestmark = pytest.mark.django_db

NS = {"b": "http://www.mesa.org/xml/B2MML"}


def _parse(data: bytes) -> ET.Element:
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(data)  # noqa: S314 (our own export, parsed back)


def test_batchml_of_a_released_record_holds_every_phase_and_value(
    batch, operator, operator2, qa_user
):
    run_batch(batch, operator, operator2, qa_user, yield_qty="1950")
    services.batch_complete(actor=operator, batch=batch)
    services.batch_release(actor=qa_user, batch=batch, signer=f.signer_for(qa_user))
    batch.refresh_from_db()

    root = _parse(batchml.batchml_export(batch))

    assert root.tag == "{http://www.mesa.org/xml/B2MML}BatchProductionRecord"
    assert root.findtext("b:ID", namespaces=NS) == batch.number
    assert root.findtext("b:ObjectType", namespaces=NS) == "Batch Production Record"
    assert root.findtext("b:LotID", namespaces=NS) == batch.output_lot.lot_number
    assert root.findtext("b:EquipmentID", namespaces=NS) == batch.unit.code
    assert root.findtext("b:RecordStatus", namespaces=NS) == "Released"
    assert (
        root.get("{urn:open-mes:batch-record}contentHash") == ebr.ebr_export(batch)["content_hash"]
    )
    events = root.findall("b:Events/b:Event", NS)
    completed = {
        e.findtext("b:ProceduralElementReference", namespaces=NS)
        for e in events
        if e.findtext("b:EntryID", namespaces=NS).endswith("-completed")
    }
    assert completed == set(
        PhaseExecution.objects.filter(batch=batch).values_list("path", flat=True)
    )
    values = {
        e.findtext("b:EntryID", namespaces=NS): (
            e.findtext("b:Value/b:Key", namespaces=NS),
            e.findtext("b:Value/b:ValueString", namespaces=NS),
            e.findtext("b:Value/b:UnitOfMeasure", namespaces=NS),
            e.findtext("b:PersonID", namespaces=NS),
        )
        for e in events
        if e.findtext("b:EventSubType", namespaces=NS) == "Parameter Data"
    }
    assert values == {
        f"value-{v.pk}": (v.name, v.value_text, v.unit, v.entered_by.username)
        for v in ParameterValue.objects.filter(phase__batch=batch).select_related("entered_by")
    }
    consumed = [e for e in events if e.findtext("b:EventSubType", namespaces=NS) == "Consume"]
    assert len(consumed) == 4
    produced = [e for e in events if e.findtext("b:EventSubType", namespaces=NS) == "Produce"]
    assert [e.findtext("b:Value/b:ValueString", namespaces=NS) for e in produced] == ["1950.000000"]
    release = [e for e in events if e.findtext("b:EventType", namespaces=NS) == "Control Recipe"]
    assert "Released" in release[0].findtext("b:MessageText", namespaces=NS)


def test_a_correction_is_in_the_change_history(batch, operator):
    ph = services.phase_start(actor=operator, phase=f.phase(batch, 1))
    first = services.parameter_value_record(
        actor=operator, phase=ph, name="Charge temperature", value="24"
    )
    second = services.parameter_value_correct(
        actor=operator, value=first, new_value="26", reason="misread"
    )

    root = _parse(batchml.batchml_export(batch))

    changes = root.findall("b:ChangeHistory/b:Change", NS)
    assert [
        (
            c.findtext("b:EntryID", namespaces=NS),
            c.findtext("b:RecordReference", namespaces=NS),
            c.findtext("b:PrechangeData/b:ValueString", namespaces=NS),
            c.findtext("b:Reason", namespaces=NS),
        )
        for c in changes
    ] == [(f"change-{second.pk}", f"value-{first.pk}", "24", "misread")]


def test_batchml_downloads_from_the_page_and_the_api(client, api_client, operator, batch):
    assign_perm("equipment.operate_in_area", operator, batch.unit.area)
    client.force_login(operator)
    api_client.force_authenticate(operator)

    page = client.get(reverse("batches:batch_batchml", args=[batch.pk]))
    api = api_client.get(f"/api/v1/batches/orders/{batch.pk}/batchml/")
    detail = client.get(reverse("batches:batch_detail", args=[batch.pk])).content.decode()

    assert page["Content-Type"] == api["Content-Type"] == "application/xml"
    assert _parse(page.content).findtext("b:BatchID", namespaces=NS) == batch.number
    assert _parse(api.content).findtext("b:BatchID", namespaces=NS) == batch.number
    assert reverse("batches:batch_batchml", args=[batch.pk]) in detail
