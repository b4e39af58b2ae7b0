"""The analytics dashboard: hand-computed OEE, right first time, due-date adherence, deviation
rate and ageing, overdue CAPA; the date range and filters; the API's shape and refusals; who
may see it. Records are made through the services (back-dated where they allow `at=`)."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone
from guardian.shortcuts import assign_perm

from genealogy.tests.factories import received_lot
from mes.analytics.buckets import AnalyticsQuery, bucket_starts, parse_query, period_of
from mes.analytics.charts import bar_chart, line_chart
from mes.analytics.selectors import metric_compute, metric_get
from mes.exceptions import InvalidInput, NotAuthorized
from mes.registry import Metric, MetricResult, register_metric, unregister_metric
from quality import services as quality
from quality.models import CapaAction, Deviation
from workorders import services as wo_services
from workorders.choices import CharacteristicKind, ReasonKind, SerialIssue, TimeBasis
from workorders.models import InspectionCharacteristic
from workorders.tests.factories import (
    ReasonCodeFactory,
    approved_versions,
    kit_materials,
    released,
    work_centers,
)

TODAY_RANGE = {"from": "", "to": ""}


def _compute(actor, key, **params):
    raw = {"from": (timezone.localdate() - timedelta(days=1)).isoformat(), **params}
    return metric_compute(
        actor=actor, metric=metric_get(actor=actor, key=key), query=parse_query(raw)
    ).result


# --- the date range ---------------------------------------------------------------------------


def test_range_defaults_to_twelve_weeks_per_week():
    query = parse_query({})
    today = timezone.localdate()
    assert (query.date_from, query.date_to, query.bucket) == (
        today - timedelta(days=83),
        today,
        "week",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-03-02", "to": "2026-03-01"}, "The range starts (2026-03-02) after it ends"),
        ({"from": "yesterday"}, "The from date must be YYYY-MM-DD (got 'yesterday')."),
        ({"to": "2026-13-01"}, "The to date must be YYYY-MM-DD"),
        ({"bucket": "hour"}, "Unknown bucket 'hour'"),
        ({"from": "2020-01-01", "to": "2022-12-31", "bucket": "day"}, "too many points"),
        ({"from": "2010-01-01", "to": "2022-12-31"}, "longer than"),
    ],
)
def test_bad_ranges_are_refused_with_the_reason(params, message):
    with pytest.raises(InvalidInput) as exc:
        parse_query(params)
    assert message in exc.value.detail


def test_buckets_cover_the_period():
    period = period_of(date(2026, 1, 28), date(2026, 3, 3))
    assert bucket_starts(period, "month") == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert bucket_starts(period, "week")[:2] == [date(2026, 1, 26), date(2026, 2, 2)]
    assert bucket_starts(period, "week")[-1] == date(2026, 3, 2)
    assert len(bucket_starts(period, "day")) == 35


def test_charts_break_lines_at_missing_buckets_and_group_bars():
    days = [date(2026, 1, d) for d in (5, 6, 7, 8)]
    chart = line_chart(
        {"A": [(days[0], 50.0), (days[1], None), (days[2], 80.0), (days[3], 90.0)]},
        unit="%",
        bucket="day",
    )
    assert len(chart.lines[0].polylines) == 2
    assert [t for _y, t in chart.y_ticks] == ["0", "25", "50", "75", "100"]
    bars = bar_chart({"OEE": [("WC1", 50.0), ("WC2", 100.0)], "Q": [("WC1", 25.0)]}, unit="%")
    assert [(b.series, b.category) for b in bars.bars] == [
        ("OEE", "WC1"),
        ("OEE", "WC2"),
        ("Q", "WC1"),
    ]
    assert bars.bars[1].height == 2 * bars.bars[0].height == 4 * bars.bars[2].height


# --- the discrete line ------------------------------------------------------------------------


@pytest.fixture
def pk(db, planner, qa_user, supervisor, operator, operator2):
    centers = work_centers()
    for person in (operator, operator2):
        assign_perm("equipment.operate_in_area", person, centers["ASM"].area)
    materials = kit_materials()
    return SimpleNamespace(
        centers=centers,
        labels=released(
            received_lot(material=materials["label"], quantity=500, lot_number="LBL-A"),
            supervisor,
        ),
        scrap=ReasonCodeFactory(kind=ReasonKind.SCRAP, code="DMG", name="Damaged"),
        rework=ReasonCodeFactory(kind=ReasonKind.REWORK, code="RESEAL", name="Reseal"),
        downtime=ReasonCodeFactory(kind=ReasonKind.DOWNTIME, code="JAM", name="Jam"),
        **materials,
    )


def _box_routing(pk, planner, qa_user):
    approved_versions(
        item=pk.box,
        lines=[{"component": pk.label, "quantity_per": "1", "operation_seq": 20}],
        operations=[
            {
                "seq": 10,
                "name": "Fill",
                "work_center": pk.centers["FIL"],
                "run_minutes_per_unit": "1.08",
                "time_basis": TimeBasis.MACHINE,
                "crew_size": 1,
            },
            {
                "seq": 20,
                "name": "Label",
                "work_center": pk.centers["LBL"],
                "run_minutes_per_unit": "0.5",
                "time_basis": TimeBasis.LABOR,
                "crew_size": 2,
            },
        ],
        author=planner,
        approver=qa_user,
    )


def _box_order(planner, pk, *, quantity, due):
    wo = wo_services.work_order_create(actor=planner, item=pk.box, quantity=quantity, due_date=due)
    return wo_services.work_order_release(actor=planner, work_order=wo)


@pytest.fixture
def filled(midday_time_zone, pk, planner, qa_user, operator, operator2):
    """100 boxes: filling ran 2 h with a 15 min jam, 90 good / 6 scrap / 4 rework; labelling
    (crew of two, labor only) 1 h each for the 90 good ones."""
    _box_routing(pk, planner, qa_user)
    wo = _box_order(planner, pk, quantity=100, due=timezone.localdate() + timedelta(days=3))
    op10, op20 = wo.operations.get(seq=10), wo.operations.get(seq=20)
    base = timezone.now() - timedelta(hours=4)
    assert timezone.localtime(base).date() == timezone.localdate()
    m = timedelta(minutes=1)
    wo_services.machine_start(actor=operator, operation=op10, at=base)
    wo_services.operation_pause(
        actor=operator, operation=op10, reason_code=pk.downtime, at=base + 60 * m
    )
    wo_services.operation_resume(actor=operator, operation=op10, at=base + 75 * m)
    wo_services.machine_stop(actor=operator, operation=op10, at=base + 135 * m)
    wo_services.operation_report(
        actor=operator,
        operation=op10,
        good=90,
        scrap=6,
        rework=4,
        scrap_reason=pk.scrap,
        rework_reason=pk.rework,
    )
    for person in (operator, operator2):
        wo_services.labor_clock_on(actor=person, operation=op20, at=base + 140 * m)
        wo_services.labor_clock_off(actor=person, operation=op20, at=base + 200 * m)
    wo_services.operation_report(actor=operator, operation=op20, good=90)
    return wo


def test_oee_per_work_center_on_a_hand_computed_example(filled, supervisor):
    result = _compute(supervisor, "workorders.oee")

    # PK-FIL: run 7200 s, jam 900 s → A = 7200/8100; P = 100 × 1.08 min / 120 min = 0.9;
    # Q = 90/100; OEE = 0.8889 × 0.9 × 0.9 = 72 %. PK-LBL: 2 × 3600 s / crew 2 = 3600 s run,
    # A = 1; P = 90 × 0.5 min / 60 min = 0.75; Q = 1.
    assert result.rows == [
        {
            "work center": "PK-FIL",
            "run h": 2.0,
            "downtime h": 0.25,
            "availability %": 88.9,
            "performance %": 90.0,
            "quality %": 90.0,
            "OEE %": 72.0,
            "good": 90.0,
            "scrap": 6.0,
            "rework": 4.0,
        },
        {
            "work center": "PK-LBL",
            "run h": 1.0,
            "downtime h": 0.0,
            "availability %": 100.0,
            "performance %": 75.0,
            "quality %": 100.0,
            "OEE %": 75.0,
            "good": 90.0,
            "scrap": 0.0,
            "rework": 0.0,
        },
    ]
    assert result.series["OEE"] == [("PK-FIL", 72.0), ("PK-LBL", 75.0)]


def test_oee_filters_by_work_center_and_product(filled, supervisor):
    only_lbl = _compute(supervisor, "workorders.oee", work_center="PK-LBL")
    other_product = _compute(supervisor, "workorders.oee", product="KIT-20")

    assert [r["work center"] for r in only_lbl.rows] == ["PK-LBL"]
    assert (other_product.rows, other_product.series) == ([], {})


def test_oee_trend_and_scrap_rate(filled, supervisor):
    trend = _compute(supervisor, "workorders.oee_trend", bucket="day")
    scrap = _compute(supervisor, "workorders.scrap_rate")

    today = timezone.localdate()
    assert trend.series["PK-FIL"] == [(today - timedelta(days=1), None), (today, 72.0)]
    assert [(r["work center"], r["scrap %"], r["rework %"]) for r in scrap.rows] == [
        ("PK-FIL", 6.0, 4.0),
        ("PK-LBL", 0.0, 0.0),
    ]


def test_nothing_recorded_is_no_data_not_zero(pk, supervisor):
    result = _compute(supervisor, "workorders.oee")
    assert (result.rows, result.series) == ([], {})


def test_serialized_units_right_first_time(pk, planner, qa_user, operator):
    approved_versions(
        item=pk.kit,
        lines=[{"component": pk.label, "quantity_per": "1", "operation_seq": 20}],
        operations=[
            {
                "seq": 10,
                "name": "Inspect",
                "work_center": pk.centers["QC"],
                "run_minutes_per_unit": "1",
                "time_basis": TimeBasis.LABOR,
                "crew_size": 1,
                "characteristics": [{"name": "Seal intact", "kind": CharacteristicKind.PASS_FAIL}],
            },
            {
                "seq": 20,
                "name": "Pack",
                "work_center": pk.centers["LBL"],
                "run_minutes_per_unit": "1",
                "time_basis": TimeBasis.LABOR,
                "crew_size": 1,
            },
        ],
        author=planner,
        approver=qa_user,
    )
    wo = wo_services.work_order_create(
        actor=planner,
        item=pk.kit,
        quantity=4,
        due_date=timezone.localdate(),
        serial_pattern="K-{seq:03d}",
        serial_issue=SerialIssue.AT_RELEASE,
    )
    wo = wo_services.work_order_release(actor=planner, work_order=wo)
    seal = InspectionCharacteristic.objects.get(
        operation=wo.operations.get(seq=10).routing_operation
    )
    u1, u2, u3, _u4 = wo.units.order_by("serial_number")

    def inspect(unit, value):
        wo_services.unit_inspect(actor=operator, unit=unit, results={seal.pk: value})

    def finish(unit):
        wo_services.unit_complete_operation(actor=operator, unit=unit)
        wo_services.unit_scan_component(actor=operator, unit=unit, code="LBL-A")
        wo_services.unit_complete_operation(actor=operator, unit=unit)

    inspect(u1, "pass")
    finish(u1)
    inspect(u2, "fail")
    wo_services.unit_send_to_rework(actor=operator, unit=u2, reason_code=pk.rework)
    wo_services.unit_return_from_rework(actor=operator, unit=u2)
    inspect(u2, "pass")
    finish(u2)
    inspect(u3, "fail")
    wo_services.unit_scrap(actor=operator, unit=u3, reason_code=pk.scrap)

    result = _compute(qa_user, "workorders.right_first_time", bucket="month")

    assert result.rows == [
        {
            "bucket": timezone.localdate().replace(day=1),
            "units out": 3,
            "finished": 2,
            "scrapped": 1,
            "right first time": 1,
            "RFT %": 33.3,
        }
    ]


def _close_one_box(planner, operator, supervisor, pk, *, due):
    wo = _box_order(planner, pk, quantity=1, due=due)
    op10, op20 = wo.operations.get(seq=10), wo.operations.get(seq=20)
    wo_services.operation_report(actor=operator, operation=op10, good=1)
    wo_services.operation_consume(actor=operator, operation=op20, code="LBL-A", quantity=1)
    wo_services.operation_report(actor=operator, operation=op20, good=1)
    return wo_services.work_order_close(actor=supervisor, work_order=wo)


def test_due_date_adherence_counts_work_orders_closed_by_their_due_date(
    pk, planner, qa_user, operator, supervisor
):
    _box_routing(pk, planner, qa_user)
    today = timezone.localdate()
    for due in (today - timedelta(days=1), today, today + timedelta(days=5)):
        _close_one_box(planner, operator, supervisor, pk, due=due)

    result = _compute(planner, "workorders.due_date_adherence", bucket="month")

    assert result.rows == [
        {"bucket": today.replace(day=1), "closed": 3, "on time": 2, "late": 1, "on time %": 66.7}
    ]
    assert "not schedule adherence" in result.note


# --- deviations -------------------------------------------------------------------------------


def _deviation(qa, title, *, days_ago, classification=""):
    d = quality.deviation_open(actor=qa, title=title, description="found on the floor")
    if classification:
        quality.deviation_classify(actor=qa, deviation=d, classification=classification)
    # test setup: a deviation opened `days_ago` (services stamp the database clock)
    Deviation.objects.filter(pk=d.pk).update(opened_at=timezone.now() - timedelta(days=days_ago))
    return d


def test_deviation_ageing_buckets(db, qa_user):
    _deviation(qa_user, "fresh", days_ago=0)
    _deviation(qa_user, "a week", days_ago=7, classification="minor")
    _deviation(qa_user, "eight days", days_ago=8, classification="major")
    _deviation(qa_user, "a month", days_ago=30, classification="major")
    _deviation(qa_user, "31 days", days_ago=31, classification="critical")
    _deviation(qa_user, "old", days_ago=200, classification="minor")

    result = _compute(qa_user, "quality.deviation_ageing")

    assert [
        (r["age"], r["Minor"], r["Major"], r["Critical"], r["Unclassified"], r["open"])
        for r in result.rows
    ] == [
        ("0–7 days", 1, 0, 0, 1, 2),
        ("8–30 days", 0, 2, 0, 0, 2),
        ("31–90 days", 0, 0, 1, 0, 1),
        ("> 90 days", 1, 0, 0, 0, 1),
    ]
    assert result.series["Major"] == [
        ("0–7 days", 0.0),
        ("8–30 days", 2.0),
        ("31–90 days", 0.0),
        ("> 90 days", 0.0),
    ]


def test_overdue_capa_by_days_late(db, qa_user, supervisor):
    d = _deviation(qa_user, "leak", days_ago=60, classification="major")
    today = timezone.localdate()
    for kind, late in (
        ("corrective", 3),
        ("corrective", 40),
        ("preventive", 40),
        ("preventive", 0),
    ):
        action = quality.capa_action_add(
            actor=qa_user,
            deviation=d,
            kind=kind,
            description=f"{kind} {late}",
            owner=supervisor,
            due_at=today + timedelta(days=10),
        )
        CapaAction.objects.filter(pk=action.pk).update(due_at=today - timedelta(days=late))

    result = _compute(qa_user, "quality.capa_overdue")

    assert [(r["days overdue"], r["Corrective"], r["Preventive"]) for r in result.rows] == [
        ("1–7 days", 1, 0),
        ("8–30 days", 0, 0),
        ("31–90 days", 1, 1),
        ("> 90 days", 0, 0),
    ]


def test_deviation_rate_per_hundred_orders(pk, planner, qa_user):
    _box_routing(pk, planner, qa_user)
    for _ in range(4):
        _box_order(planner, pk, quantity=5, due=timezone.localdate())
    _deviation(qa_user, "one", days_ago=0, classification="minor")

    result = _compute(qa_user, "quality.deviation_rate", bucket="month")

    assert [
        (r["deviations"], r["Minor"], r["orders started"], r["per 100 orders"]) for r in result.rows
    ] == [(1, 1, 4, 25.0)]


# --- the page, the API, the rights ------------------------------------------------------------


def test_operator_gets_403_and_no_tile(client, operator, api_client):
    client.force_login(operator)
    assert client.get("/analytics/").status_code == 403
    assert b'data-tile="mes.analytics"' not in client.get("/").content
    api_client.force_authenticate(operator)
    response = api_client.get("/api/v1/analytics/")
    assert (response.status_code, response.json()["code"]) == (403, "not_authorized")
    with pytest.raises(NotAuthorized):
        metric_get(actor=operator, key="workorders.oee")


@pytest.mark.parametrize("role", ["supervisor", "qa_user", "planner", "admin_user"])
def test_analytics_roles_see_the_tile_and_the_page(db, client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert b'data-tile="mes.analytics"' in client.get("/").content
    assert client.get("/analytics/").status_code == 200


def test_page_draws_charts_tables_and_no_data(client, filled, supervisor):
    client.force_login(supervisor)
    response = client.get("/analytics/", {"from": timezone.localdate().isoformat()})
    html = response.content.decode()

    assert response.status_code == 200
    oee = html.split('data-metric="workorders.oee"')[1].split("</section>")[0]
    assert 'data-testid="chart" data-kind="bar"' in oee
    assert "<td>PK-FIL</td>" in oee
    assert "<td>72</td>" in oee
    ageing = html.split('data-metric="quality.deviation_ageing"')[1].split("</section>")[0]
    assert "No data in this period." in ageing


def test_page_refuses_a_bad_range_with_the_reason(client, supervisor):
    client.force_login(supervisor)
    response = client.get("/analytics/", {"from": "2026-05-02", "to": "2026-05-01"})
    assert response.status_code == 400
    assert "The range starts (2026-05-02) after it ends (2026-05-01)." in response.content.decode()


def test_csv_download_is_the_table(client, filled, supervisor):
    client.force_login(supervisor)
    response = client.get("/analytics/workorders.scrap_rate.csv", {"bucket": "month"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "work center,processed,good,scrap,rework,scrap %,rework %"
    assert lines[1] == "PK-FIL,100,90,6,4,6,4"


def test_api_lists_metrics_and_returns_one(api_client, filled, planner):
    api_client.force_authenticate(planner)
    listing = api_client.get("/api/v1/analytics/").json()["metrics"]
    keys = [m["key"] for m in listing]
    assert {"workorders.oee", "batches.yield_trend", "quality.deviation_ageing"} <= set(keys)

    today = timezone.localdate().isoformat()
    response = api_client.get(
        "/api/v1/analytics/workorders.oee/",
        {"from": today, "to": today, "bucket": "day", "work_center": "PK-FIL", "unit": "R-1"},
    )
    body = response.json()
    assert response.status_code == 200
    assert {k: body[k] for k in ("key", "unit", "chart", "from", "to", "bucket")} == {
        "key": "workorders.oee",
        "unit": "%",
        "chart": "bar",
        "from": today,
        "to": today,
        "bucket": "day",
    }
    assert body["applied_filters"] == {"work_center": "PK-FIL"}
    assert body["has_data"] is True
    oee = next(s for s in body["series"] if s["name"] == "OEE")
    assert oee["points"] == [{"x": "PK-FIL", "value": 72.0}]
    assert body["rows"][0]["OEE %"] == 72.0


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"from": "2026-02-10", "to": "2026-02-01"}, "after it ends"),
        ({"from": "10/02/2026"}, "must be YYYY-MM-DD"),
    ],
)
def test_api_bad_range_is_400(api_client, supervisor, params, detail):
    api_client.force_authenticate(supervisor)
    response = api_client.get("/api/v1/analytics/workorders.oee/", params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert detail in response.json()["detail"]


def test_api_unknown_metric_is_404(api_client, supervisor):
    api_client.force_authenticate(supervisor)
    response = api_client.get("/api/v1/analytics/nope/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_metric_without_data_or_that_fails_does_not_break_the_page(client, supervisor):
    register_metric(
        Metric(
            key="zz.empty",
            title="Plan adherence (not yet)",
            unit="%",
            compute=lambda period, **kw: MetricResult(),
        )
    )

    def broken(period):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    register_metric(Metric(key="zz.broken", title="Broken", unit="%", compute=broken))
    try:
        client.force_login(supervisor)
        html = client.get("/analytics/").content.decode()
    finally:
        unregister_metric("zz.empty")
        unregister_metric("zz.broken")
    empty = html.split('data-metric="zz.empty"')[1].split("</section>")[0]
    failed = html.split('data-metric="zz.broken"')[1].split("</section>")[0]
    assert "No data in this period." in empty
    assert "could not be computed" in failed
    # the failed query spoilt no later figure (each runs in its own savepoint)
    ageing = html.split('data-metric="quality.deviation_ageing"')[1].split("</section>")[0]
    assert "No data in this period." in ageing


def test_query_params_round_trip():
    query = AnalyticsQuery(
        date_from=date(2026, 1, 1), date_to=date(2026, 1, 31), bucket="day", filters={"unit": "R1"}
    )
    assert parse_query(query.params()) == query
