"""The process plant on the analytics dashboard: OEE per unit, yield trend and right first
time of batches, on batches run through the services with back-dated times."""

from datetime import timedelta

import pytest
from django.utils import timezone

from batches import services
from batches.tests import factories as f
from equipment import services as equipment_services
from equipment.tests.factories import UnitFactory
from mes.analytics.buckets import parse_query
from mes.analytics.selectors import metric_compute, metric_get

M = timedelta(minutes=1)


def _compute(actor, key, **params):
    raw = {"from": (timezone.localdate() - timedelta(days=1)).isoformat(), **params}
    return metric_compute(
        actor=actor, metric=metric_get(actor=actor, key=key), query=parse_query(raw)
    ).result


def _run(batch, unit, t0, operator, operator2, qa, *, correct=False):
    """Charge 0–30 min, solvent 30–60, (10 min wait) react hold 70–220 (plan: 120 min),
    filter 220–250; yield 1950 kg of 1960 expected (in range); completed at 260 min."""
    services.batch_start(actor=operator, batch=batch, unit=unit, at=t0)
    mono = f.released_lot(material="RM-MONO", quantity="1000", qa=qa)
    solv = f.released_lot(material="RM-SOLV", quantity="1500", qa=qa)
    init = f.released_lot(material="RM-INIT", quantity="50", qa=qa)
    aid = f.released_lot(material="RM-AID", quantity="20", qa=qa)

    def done(phase, minute):
        return services.phase_complete(
            actor=operator, phase=phase, signer=f.signer_for(operator), at=t0 + minute * M
        )

    p1 = services.phase_start(actor=operator, phase=f.phase(batch, 1), at=t0)
    value = services.parameter_value_record(
        actor=operator, phase=p1, name="Charge temperature", value="24"
    )
    if correct:
        services.parameter_value_correct(
            actor=operator, value=value, new_value="25", reason="typing error"
        )
    services.material_dispense(actor=operator, phase=p1, lot=mono, quantity="800")
    done(p1, 30)
    p2 = services.phase_start(actor=operator, phase=f.phase(batch, 2), at=t0 + 30 * M)
    services.material_dispense(actor=operator, phase=p2, lot=solv, quantity="1200")
    done(p2, 60)
    p3 = services.phase_start(actor=operator, phase=f.phase(batch, 3), at=t0 + 70 * M)
    services.parameter_value_record(
        actor=operator, phase=p3, name="Temperature", value="85", instrument=f.probe()
    )
    services.parameter_value_record(actor=operator, phase=p3, name="Appearance", value="clear")
    services.material_dispense(actor=operator, phase=p3, lot=init, quantity="10")
    done(p3, 220)
    services.phase_verify(actor=operator2, phase=p3, signer=f.signer_for(operator2))
    p4 = services.phase_start(actor=operator, phase=f.phase(batch, 4), at=t0 + 220 * M)
    services.material_dispense(actor=operator, phase=p4, lot=aid, quantity="5")
    done(p4, 250)
    services.batch_record_yield(actor=operator, batch=batch, quantity="1950", at=t0 + 255 * M)
    f.output_lot_results(batch, qa=qa)
    services.batch_complete(actor=operator, batch=batch, at=t0 + 260 * M)
    return services.batch_release(
        actor=qa, batch=batch, signer=f.signer_for(qa), reason="record reviewed"
    )


def _reactor(code, cleaned_at, operator, supervisor):
    """A glass-lined reactor cleaned (major) and verified before the batch starts."""
    unit = UnitFactory(capabilities=["glass-lined"], code=code)
    equipment_services.unit_record_cleaning(
        actor=operator, unit=unit, cleaning_type="major", at=cleaned_at
    )
    equipment_services.unit_verify_cleaning(actor=supervisor, unit=unit, at=cleaned_at + 10 * M)
    return unit


@pytest.fixture
def two_batches(midday_time_zone, version, planner, operator, operator2, supervisor, qa_user):
    t0 = timezone.now() - timedelta(hours=5)
    assert timezone.localtime(t0).date() == timezone.localdate()
    r1 = _reactor("R-101", t0 - 30 * M, operator, supervisor)
    r2 = _reactor("R-102", t0 - 30 * M, operator, supervisor)
    b1 = _run(f.batch_order(planner=planner, version=version), r1, t0, operator, operator2, qa_user)
    b2 = _run(
        f.batch_order(planner=planner, version=version),
        r2,
        t0,
        operator,
        operator2,
        qa_user,
        correct=True,
    )
    return b1, b2


@pytest.fixture
def version(recipe_author, qa_user):
    return f.recipe(author=recipe_author, reviewer=qa_user)


def test_oee_per_unit_on_a_hand_computed_batch(two_batches, supervisor):
    result = _compute(supervisor, "batches.oee")

    # occupied 260 min, phases active 240 min → A = 0.9231; the react hold is planned at
    # 120 min and took 150 → P = 0.8; yield in range → Q = 1; OEE = 73.8 %.
    assert result.rows[0] == {
        "unit": "R-101",
        "occupied h": 4.33,
        "phases active h": 4.0,
        "availability %": 92.3,
        "performance %": 80.0,
        "quality %": 100.0,
        "OEE %": 73.8,
        "batches with yield": 1,
        "yield in range": 1,
    }
    assert [r["unit"] for r in result.rows] == ["R-101", "R-102"]
    only = _compute(supervisor, "batches.oee", unit="R-102")
    assert [r["unit"] for r in only.rows] == ["R-102"]


def test_yield_trend_and_right_first_time(two_batches, qa_user):
    today = timezone.localdate()
    yields = _compute(qa_user, "batches.yield_trend", bucket="day")
    rft = _compute(qa_user, "batches.right_first_time", bucket="day")

    assert yields.series == {"RESIN-T": [(today - timedelta(days=1), None), (today, 99.5)]}
    assert [(r["batches"], r["yield %"], r["in range"]) for r in yields.rows] == [(2, 99.5, 2)]
    # the second batch's record carries a corrected value: not right first time
    assert rft.rows == [
        {
            "bucket": today,
            "released": 2,
            "with deviation": 0,
            "with correction": 1,
            "right first time": 1,
            "RFT %": 50.0,
        }
    ]
