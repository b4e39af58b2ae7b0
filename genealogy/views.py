"""Pages of genealogy: find a lot, its ledger, the explorable graph (one level at a time,
HTMX), the recall scope (screen, CSV, PDF) and recall jobs running in the background."""

from pathlib import Path

from django.contrib.auth.decorators import login_required, permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from genealogy import exports, selectors, services
from genealogy.choices import Direction, RecallJobStatus
from genealogy.models import Lot, RecallJob
from genealogy.selectors import RecallScope

SEARCH_LIMIT = 50
SCREEN_ROWS = 500
LEVEL_LIMIT = 200  # nodes shown per level of the graph before "show all"


@login_required
@permission_required("genealogy.view_lot", raise_exception=True)
@require_GET
def lot_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    lots: list[Lot] = []
    if query:
        lots = list(selectors.lot_list(search=query)[:SEARCH_LIMIT])
        if not lots:
            lots = list(
                selectors.lot_list()
                .filter(lot_number__startswith=query)
                .order_by("lot_number")[:SEARCH_LIMIT]
            )
        if len(lots) == 1 and not request.htmx:
            return redirect("genealogy:lot_detail", pk=lots[0].pk)
    template = (
        "genealogy/partials/_lot_results.html" if request.htmx else "genealogy/lot_search.html"
    )
    return render(request, template, {"query": query, "lots": lots, "limit": SEARCH_LIMIT})


def _level(pk: int, direction: str) -> dict:
    """One level of neighbours for a template (`neighbours`, `hidden`, `total`)."""
    neighbours = selectors.lot_neighbours(lot_id=pk, direction=direction, limit=LEVEL_LIMIT)
    total = len(neighbours)
    if total == LEVEL_LIMIT:
        total = selectors.lot_neighbour_count(lot_id=pk, direction=direction)
    return {
        "neighbours": neighbours,
        "hidden": total - len(neighbours),
        "total": total,
        "pk": pk,
        "direction": direction,
    }


@login_required
@permission_required("genealogy.view_lot", raise_exception=True)
@require_GET
def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lot = selectors.lot_get(pk=pk)
    events = list(selectors.lot_events(lot=lot))
    context = {
        "lot": lot,
        "events": events,
        "ledger_total": selectors.lot_quantity_from_events(lot=lot),
        "parents": _level(lot.pk, Direction.BACKWARD),
        "children": _level(lot.pk, Direction.FORWARD),
        "may_trace": request.user.has_perm("genealogy.trace_lot"),
        "may_recall": request.user.has_perm("genealogy.recall_lot"),
    }
    return render(request, "genealogy/lot_detail.html", context)


@login_required
@permission_required("genealogy.trace_lot", raise_exception=True)
@require_GET
def lot_graph(request: HttpRequest, pk: int) -> HttpResponse:
    """The page: the lot and its first level. The HTMX partial: one more level below `pk`
    (each node a <details> that loads its own level the first time it is opened)."""
    direction = request.GET.get("direction", Direction.BACKWARD)
    if direction not in Direction.values:
        direction = Direction.BACKWARD
    limit = None if request.GET.get("all") == "1" else LEVEL_LIMIT
    neighbours = selectors.lot_neighbours(lot_id=pk, direction=direction, limit=limit)
    total = len(neighbours)
    if limit is not None and total == limit:
        total = selectors.lot_neighbour_count(lot_id=pk, direction=direction)
    context = {
        "direction": direction,
        "neighbours": neighbours,
        "hidden": total - len(neighbours),
        "total": total,
        "pk": pk,
    }
    if request.htmx:
        return render(request, "genealogy/partials/_graph_level.html", context)
    lot = selectors.lot_get(pk=pk)
    return render(request, "genealogy/lot_graph.html", {**context, "lot": lot})


def _scope_from_request(
    request: HttpRequest, *, limit: int | None
) -> tuple[RecallScope | None, Lot | None, str]:
    lot_id = request.GET.get("lot", "").strip()
    supplier_lot = request.GET.get("supplier_lot", "").strip()
    if lot_id:
        if not lot_id.isdigit():
            raise Http404("No such lot.")
        lot = selectors.lot_get(pk=int(lot_id))
        return selectors.recall_scope_for_lot(lot=lot, limit=limit), lot, ""
    if supplier_lot:
        scope = selectors.recall_scope_for_supplier_lot(
            supplier_lot_number=supplier_lot, limit=limit
        )
        return scope, None, supplier_lot
    return None, None, ""


@login_required
@permission_required("genealogy.recall_lot", raise_exception=True)
@require_GET
def recall(request: HttpRequest) -> HttpResponse:
    """?lot=<id> or ?supplier_lot=<number>; &format=csv|pdf for the full lists."""
    fmt = request.GET.get("format", "")
    # the screen shows totals and the first rows (a preview computed in the database); the
    # CSV and the PDF hold every row
    full = fmt in ("csv", "pdf")
    scope, lot, supplier_lot = _scope_from_request(request, limit=None if full else SCREEN_ROWS)
    if scope is not None and fmt == "csv":
        response = HttpResponse(exports.recall_csv(scope), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="recall-{slugify(scope.subject)}.csv"'
        )
        return response
    if scope is not None and fmt == "pdf":
        pdf = exports.recall_pdf(scope, generated_by=request.user.printed_name)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="recall-{slugify(scope.subject)}.pdf"'
        )
        return response
    context = {
        "scope": scope,
        "summary": scope.summary() if scope else None,
        "lot": lot,
        "supplier_lot": supplier_lot,
        "rows": SCREEN_ROWS,
        "finished_lots": scope.finished_lots[:SCREEN_ROWS] if scope else [],
        "units": scope.units[:SCREEN_ROWS] if scope else [],
        "shipments": scope.shipments[:SCREEN_ROWS] if scope else [],
        "query": request.GET.urlencode(),
    }
    return render(request, "genealogy/recall.html", context)


@login_required
@permission_required("genealogy.recall_lot", raise_exception=True)
@require_POST
def recall_job_start(request: HttpRequest) -> HttpResponse:
    lot_id = request.POST.get("lot", "").strip()
    lot = get_object_or_404(Lot, pk=int(lot_id)) if lot_id.isdigit() else None
    job = services.recall_job_start(
        actor=request.user, lot=lot, supplier_lot_number=request.POST.get("supplier_lot", "")
    )
    return redirect("genealogy:recall_job_detail", pk=job.pk)


@login_required
@permission_required("genealogy.recall_lot", raise_exception=True)
@require_GET
def recall_job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        RecallJob.objects.select_related("lot__material", "requested_by"), pk=pk
    )
    context = {
        "job": job,
        "running": job.status in (RecallJobStatus.QUEUED, RecallJobStatus.RUNNING),
    }
    if request.htmx:
        return render(request, "genealogy/partials/_recall_job_progress.html", context)
    return render(request, "genealogy/recall_job.html", context)


@login_required
@permission_required("genealogy.recall_lot", raise_exception=True)
@require_GET
def recall_job_download(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    job = get_object_or_404(RecallJob, pk=pk, status=RecallJobStatus.DONE)
    stored = {"csv": job.csv_path, "pdf": job.pdf_path}.get(kind, "")
    path = Path(stored)
    folder = services.recall_files_dir().resolve()
    if not stored or not path.is_file() or path.resolve().parent != folder:
        raise Http404("The file of this job is not available.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"recall-job-{job.pk}.{kind}")
