"""Pages: find a lot, its ledger, the explorable graph (HTMX levels), the recall scope as
screen, CSV and PDF, the recall job page."""

import csv
import io

import pytest
from django.urls import reverse

from genealogy import exports, selectors, services
from genealogy.choices import MaterialKind
from genealogy.models import RecallJob
from genealogy.tests.factories import (
    MaterialFactory,
    SerializedMaterialFactory,
    produced_lot,
    received_lot,
)
from mes.registry import tiles_for_roles

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(operator, supervisor):
    raw = received_lot(
        quantity="100", lot_number="RAW-1", supplier_lot_number="SLN-7", actor=operator
    )
    fg = MaterialFactory(code="FG", kind=MaterialKind.FINISHED)
    batch = produced_lot(
        material=fg,
        quantity="50",
        lot_number="FG-1",
        inputs=[(raw, "40")],
        source_ref="B-77",
        actor=operator,
    )
    (sub,) = services.lot_split(actor=operator, lot=batch, quantities=["40"])
    units = [
        services.unit_create(
            actor=operator,
            material=SerializedMaterialFactory(code="PAIL"),
            serial_number=f"SN-{i}",
            components=[{"lot": sub, "quantity": "20"}],
        )
        for i in range(2)
    ]
    services.lot_ship(
        actor=supervisor, units=units, customer="Acme <Coatings>", shipment_ref="SH-1"
    )
    return {"raw": raw, "batch": batch, "sub": sub, "units": units}


def test_the_tile_is_for_qa_and_supervisors():
    assert "genealogy" in {t.key for t in tiles_for_roles({"QA Reviewer"})}
    assert "genealogy" in {t.key for t in tiles_for_roles({"Supervisor"})}
    assert "genealogy" not in {t.key for t in tiles_for_roles({"Operator"})}


def test_search_by_supplier_lot_opens_the_lot(client, qa_user, chain):
    client.force_login(qa_user)

    response = client.get(reverse("genealogy:lot_search"), {"q": "SLN-7"})

    assert response.status_code == 302
    assert response["Location"] == reverse("genealogy:lot_detail", args=[chain["raw"].pk])


def test_search_by_prefix_lists_matches(client, qa_user, chain):
    client.force_login(qa_user)

    response = client.get(reverse("genealogy:lot_search"), {"q": "SN-"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert [lot.lot_number for lot in response.context["lots"]] == ["SN-0", "SN-1"]


def test_lot_page_shows_the_ledger_and_both_directions(client, qa_user, chain):
    client.force_login(qa_user)

    response = client.get(reverse("genealogy:lot_detail", args=[chain["batch"].pk]))

    assert response.status_code == 200
    assert [e.type for e in response.context["events"]] == ["lot.produced", "lot.split"]
    assert [n.node.lot_number for n in response.context["parents"]["neighbours"]] == ["RAW-1"]
    assert [n.node.lot_number for n in response.context["children"]["neighbours"]] == ["FG-1-01"]
    html = response.content.decode()
    assert 'href="/batches/B-77/"' in html


def test_graph_page_and_one_level_partial(client, qa_user, chain):
    client.force_login(qa_user)
    url = reverse("genealogy:lot_graph", args=[chain["raw"].pk])

    page = client.get(url, {"direction": "forward"})
    level = client.get(
        reverse("genealogy:lot_graph", args=[chain["sub"].pk]),
        {"direction": "forward"},
        HTTP_HX_REQUEST="true",
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert "FG-1" in html
    assert (
        f'hx-get="{reverse("genealogy:lot_graph", args=[chain["batch"].pk])}?direction=forward"'
        in html
    )
    assert 'hx-trigger="toggle once"' in html
    assert [n.node.lot_number for n in level.context["neighbours"]] == ["SN-0", "SN-1"]
    assert "<html" not in level.content.decode()


def test_graph_needs_the_trace_permission(client, maintenance_user, chain):
    client.force_login(maintenance_user)

    response = client.get(reverse("genealogy:lot_graph", args=[chain["raw"].pk]))

    assert response.status_code == 403


def test_recall_screen_csv_and_pdf(client, qa_user, chain):
    client.force_login(qa_user)
    url = reverse("genealogy:recall")

    screen = client.get(url, {"lot": chain["raw"].pk})
    as_csv = client.get(url, {"lot": chain["raw"].pk, "format": "csv"})
    as_pdf = client.get(url, {"lot": chain["raw"].pk, "format": "pdf"})

    assert screen.context["summary"]["affected_count"] == 5
    assert "Acme &lt;Coatings&gt;" in screen.content.decode()
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert rows[0] == exports.CSV_HEADER
    assert [(r[0], r[3]) for r in rows[1:]] == [
        ("finished_lot", "FG-1"),
        ("finished_lot", "FG-1-01"),
        ("unit", "SN-0"),
        ("unit", "SN-1"),
        ("shipment", "SN-0"),
        ("shipment", "SN-1"),
    ]
    assert as_csv["Content-Disposition"].startswith('attachment; filename="recall-')
    assert as_pdf.content.startswith(b"%PDF")


def test_recall_by_supplier_lot_on_screen(client, supervisor, chain):
    client.force_login(supervisor)

    response = client.get(reverse("genealogy:recall"), {"supplier_lot": "SLN-7"})

    assert response.context["scope"].subject == "supplier lot SLN-7"
    assert response.context["summary"]["customers"] == ["Acme <Coatings>"]


def test_recall_is_refused_to_operators(client, operator, chain):
    client.force_login(operator)

    response = client.get(reverse("genealogy:recall"), {"lot": chain["raw"].pk})

    assert response.status_code == 403


def test_recall_job_page_and_downloads(
    client, qa_user, chain, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.VAR_DIR = tmp_path
    client.force_login(qa_user)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(reverse("genealogy:recall_job_start"), {"lot": chain["raw"].pk})
    job = RecallJob.objects.get()
    page = client.get(reverse("genealogy:recall_job_detail", args=[job.pk]))
    progress = client.get(
        reverse("genealogy:recall_job_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    )
    pdf = client.get(reverse("genealogy:recall_job_download", args=[job.pk, "pdf"]))
    other = client.get(reverse("genealogy:recall_job_download", args=[job.pk, "exe"]))

    assert started["Location"] == reverse("genealogy:recall_job_detail", args=[job.pk])
    assert (job.status, job.progress, job.unit_count, job.customer_count) == ("done", 100, 2, 1)
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' not in progress.content.decode()
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert other.status_code == 404


def test_running_job_polls_for_progress(client, qa_user, chain):
    job = RecallJob.objects.create(requested_by=qa_user, lot=chain["raw"])
    client.force_login(qa_user)

    progress = client.get(
        reverse("genealogy:recall_job_detail", args=[job.pk]), HTTP_HX_REQUEST="true"
    )

    assert 'hx-trigger="every 1s"' in progress.content.decode()


def test_pdf_of_a_large_scope_has_one_table_per_page(chain):
    scope = selectors.recall_scope_for_lot(lot=chain["raw"])
    scope.units = scope.units * 100  # 200 rows: several pages
    pages = []

    exports.write_recall_pdf(scope, io.BytesIO(), on_page=pages.append)

    assert pages[-1] == 1 + 1 + 200 // exports.ROWS_PER_PAGE + 1 + 1


def test_scan_of_a_serial_number_leads_to_its_page(qa_user, chain):
    from genealogy.scan import resolve_lot_code

    assert resolve_lot_code("SN-1", qa_user) == reverse(
        "genealogy:lot_detail", args=[chain["units"][1].pk]
    )
    assert resolve_lot_code("NOPE", qa_user) is None


def test_a_wide_level_shows_the_first_nodes_and_offers_the_rest(
    client, qa_user, operator, monkeypatch
):
    from genealogy import views

    monkeypatch.setattr(views, "LEVEL_LIMIT", 2)
    lot = received_lot(quantity="10", lot_number="WIDE", actor=operator)
    services.lot_split(actor=operator, lot=lot, quantities=["1", "1", "1"])
    client.force_login(qa_user)
    url = reverse("genealogy:lot_graph", args=[lot.pk])

    level = client.get(url, {"direction": "forward"}, HTTP_HX_REQUEST="true")
    full = client.get(url, {"direction": "forward", "all": "1"}, HTTP_HX_REQUEST="true")

    assert [n.node.lot_number for n in level.context["neighbours"]] == ["WIDE-01", "WIDE-02"]
    assert (level.context["hidden"], level.context["total"]) == (1, 3)
    assert "show all 3</a> (1 more)" in level.content.decode()
    assert [n.node.lot_number for n in full.context["neighbours"]] == [
        "WIDE-01",
        "WIDE-02",
        "WIDE-03",
    ]
    assert "show all" not in full.content.decode()
