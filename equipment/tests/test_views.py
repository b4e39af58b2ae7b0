"""Equipment pages and the printable logbook."""

import base64
import re
import zlib
from datetime import timedelta

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from equipment import services
from equipment.pdf import unit_logbook_pdf
from equipment.tests.conftest import HOUR, clean, snapshot, use
from equipment.tests.factories import InstrumentFactory, UnitFactory, WorkCenterFactory

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    """The text drawn in a PDF: its content streams, inflated."""
    chunks = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        if stream.rstrip().endswith(b"~>"):  # reportlab: /ASCII85Decode /FlateDecode
            stream = zlib.decompress(base64.a85decode(stream.rstrip()[:-2]))
        chunks.append(stream)
    return b"\n".join(chunks).decode("latin-1")


@pytest.fixture
def reactor_rx(db):
    return UnitFactory(code="R-101", name="Reactor 101", capabilities=["glass-lined"])


def test_plant_page_shows_status_cleaning_and_flags(client, supervisor, operator, reactor_rx, now):
    clean(reactor_rx, by=operator, verified_by=supervisor, at=now - HOUR)
    dirty = UnitFactory(code="R-102")
    InstrumentFactory(code="PH-102", unit=dirty, next_calibration_due_at=now - HOUR)
    client.force_login(supervisor)

    html = client.get(reverse("equipment:plant")).content.decode()

    r101 = html.split('data-unit="R-101"')[1].split("</tr>")[0]
    r102 = html.split('data-unit="R-102"')[1].split("</tr>")[0]
    assert "Available" in r101
    assert ">Clean<" in r101
    assert "glass-lined" in r101
    assert ">No cleaning recorded<" in r102
    assert "calibration past due: PH-102" in r102


def test_operator_sees_only_granted_areas_on_the_plant_page(client, operator, reactor_rx):
    UnitFactory(code="FIL-01", area=WorkCenterFactory().area, working_volume_l=None)
    assign_perm("equipment.operate_in_area", operator, reactor_rx.area)
    client.force_login(operator)
    html = client.get(reverse("equipment:plant")).content.decode()
    assert 'data-unit="R-101"' in html
    assert 'data-unit="FIL-01"' not in html


def test_unit_page_answers_the_gate_for_a_product(client, supervisor, operator, reactor_rx, now):
    clean(reactor_rx, by=operator, verified_by=supervisor, at=now - 10 * HOUR)
    use(
        reactor_rx,
        by=operator,
        batch="RB-1",
        product="RES-100",
        start=now - 8 * HOUR,
        end=now - 6 * HOUR,
    )
    client.force_login(supervisor)

    html = client.get(
        reverse("equipment:unit_detail", args=[reactor_rx.pk]), {"product_code": "RES-200"}
    ).content.decode()

    assert "May not be used now" in html
    assert 'data-code="cleaning_required"' in html
    assert "RB-1" in html  # the logbook


def test_unit_page_htmx_returns_the_partial(client, supervisor, reactor_rx):
    client.force_login(supervisor)
    response = client.get(
        reverse("equipment:unit_detail", args=[reactor_rx.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="usability"')
    assert "<html" not in html


def test_record_and_verify_cleaning_through_the_page(client, operator, operator2, reactor_rx):
    for user in (operator, operator2):
        assign_perm("equipment.operate_in_area", user, reactor_rx.area)
    client.force_login(operator)
    url = reverse("equipment:unit_detail", args=[reactor_rx.pk])

    response = client.post(
        reverse("equipment:unit_record_cleaning", args=[reactor_rx.pk]),
        {"cleaning_type": "major", "note": "CIP"},
        follow=True,
    )
    assert response.redirect_chain == [(url, 302)]
    assert "Major cleaning of R-101 recorded" in response.content.decode()

    refused = client.post(
        reverse("equipment:unit_verify_cleaning", args=[reactor_rx.pk]), {}, follow=True
    ).content.decode()
    assert "Olivia Operator performed this cleaning; another person must verify it." in refused

    client.force_login(operator2)
    verified = client.post(
        reverse("equipment:unit_verify_cleaning", args=[reactor_rx.pk]), {}, follow=True
    ).content.decode()
    assert "Cleaning of R-101 verified." in verified
    assert "May be used now" in verified


def test_status_form_refused_for_operator(client, operator, reactor_rx):
    assign_perm("equipment.operate_in_area", operator, reactor_rx.area)
    client.force_login(operator)
    before = snapshot(reactor_rx)
    html = client.post(
        reverse("equipment:unit_change_status", args=[reactor_rx.pk]),
        {"to_status": "out_of_service", "reason": "x"},
        follow=True,
    ).content.decode()
    assert "may not change the status of a unit" in html
    assert snapshot(reactor_rx) == before


def test_unit_of_another_area_is_404(client, operator, reactor_rx):
    client.force_login(operator)
    assert client.get(reverse("equipment:unit_detail", args=[reactor_rx.pk])).status_code == 404


def test_instrument_list_highlights_overdue(client, maintenance_user, now):
    InstrumentFactory(code="PH-102", next_calibration_due_at=now - HOUR)
    InstrumentFactory(code="TT-101", next_calibration_due_at=now + timedelta(days=5))
    InstrumentFactory(code="WS-101", next_calibration_due_at=now + timedelta(days=100))
    client.force_login(maintenance_user)

    html = client.get(reverse("equipment:instrument_list")).content.decode()

    assert re.search(r'data-instrument="PH-102" class="due-overdue"', html)
    assert re.search(r'data-instrument="TT-101" class="due-due_soon"', html)
    assert re.search(r'data-instrument="WS-101" class="due-ok"', html)
    assert html.index("PH-102") < html.index("TT-101") < html.index("WS-101")


def test_record_calibration_through_the_page(client, maintenance_user, now):
    probe = InstrumentFactory(code="TT-101", next_calibration_due_at=now - HOUR)
    client.force_login(maintenance_user)
    response = client.post(
        reverse("equipment:instrument_detail", args=[probe.pk]),
        {"reference_value": "25", "as_found_value": "25.3", "certificate_ref": "C-9"},
        follow=True,
    )
    html = response.content.decode()
    assert "Calibration of TT-101 recorded." in html
    assert "May be used for readings" in html
    probe.refresh_from_db()
    assert probe.calibrations.get().certificate_ref == "C-9"


def test_maintenance_list_start_and_complete(client, maintenance_user, reactor_rx):
    order = services.maintenance_work_order_create(
        actor=maintenance_user, unit=reactor_rx, title="Seal leak"
    )
    client.force_login(maintenance_user)
    html = client.get(reverse("equipment:maintenance_list")).content.decode()
    assert f'data-order="{order.number}"' in html

    client.post(reverse("equipment:maintenance_start", args=[order.pk]))
    reactor_rx.refresh_from_db()
    assert reactor_rx.status == "in_maintenance"
    client.post(reverse("equipment:maintenance_complete", args=[order.pk]), {"note": "done"})
    reactor_rx.refresh_from_db()
    order.refresh_from_db()
    assert (reactor_rx.status, order.status, order.completion_note) == (
        "available",
        "completed",
        "done",
    )


def test_logbook_pdf_has_page_x_of_y(supervisor, operator, reactor_rx, now):
    clean(reactor_rx, by=operator, verified_by=supervisor, at=now - 300 * HOUR)
    for n in range(40):
        start = now - (290 - 7 * n) * HOUR
        use(
            reactor_rx,
            by=operator,
            batch=f"RB-{n:03d}",
            product="RES-100",
            start=start,
            end=start + 2 * HOUR,
        )
        clean(reactor_rx, by=operator, verified_by=supervisor, at=start + 3 * HOUR, kind="minor")

    data = unit_logbook_pdf(unit=reactor_rx, printed_by=supervisor, at=now, compress=False)

    text = pdf_text(data)
    pages = int(re.search(rb"/Count (\d+)", data).group(1))
    assert data.startswith(b"%PDF")
    assert pages >= 3
    assert [f"Page {n} of {pages}" in text for n in range(1, pages + 1)] == [True] * pages
    assert "RB-039" in text
    assert "Sam Supervisor" in text
    assert "Equipment logbook: R-101 Reactor 101" in text


def test_logbook_pdf_view(client, supervisor, reactor_rx):
    client.force_login(supervisor)
    response = client.get(reverse("equipment:unit_logbook", args=[reactor_rx.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "Page 1 of 1" in pdf_text(response.content)


def test_home_tiles(client, maintenance_user, operator):
    client.force_login(maintenance_user)
    html = client.get(reverse("home")).content.decode()
    assert reverse("equipment:maintenance_list") in html
    assert reverse("equipment:plant") in html
    client.force_login(operator)
    html = client.get(reverse("home")).content.decode()
    assert reverse("equipment:plant") in html
    assert reverse("equipment:maintenance_list") not in html


def test_scan_resolver_opens_units_and_instruments_the_user_may_see(
    supervisor, operator, reactor_rx
):
    from mes.registry import scan_resolvers

    [resolver] = [r for r in scan_resolvers() if r.key == "equipment.code"]
    probe = InstrumentFactory(code="TT-101", unit=reactor_rx)

    assert resolver.resolve("r-101", supervisor) == reverse(
        "equipment:unit_detail", args=[reactor_rx.pk]
    )
    assert resolver.resolve("TT-101", supervisor) == reverse(
        "equipment:instrument_detail", args=[probe.pk]
    )
    assert resolver.resolve("R-101", operator) is None
    assert resolver.resolve("NOPE", supervisor) is None
