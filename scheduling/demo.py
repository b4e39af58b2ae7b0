"""The scheduling part of the demo plant (after equipment, batches and work orders, order
700): the changeover matrix of the resin cell (minor clean 60 min, major 180 min, at most 4
batches per campaign), a two-shift calendar on the labelling station PK-LBL, two more batch
orders of RESIN-PA to place, then schedule SCH-… solved and published (the dispatch lists),
and a second one solved with a makespan-heavy objective and left proposed for the planner to
compare. Idempotent: when the site has a schedule, nothing changes."""

from datetime import time
from typing import Any

from batches import services as batch_services
from batches.models import BatchOrder
from equipment.models import WorkCenter
from mes.accounts.roles import Role
from recipes.models import MasterRecipe
from recipes.selectors import recipe_version_current_approved
from scheduling import services
from scheduling.models import ChangeoverMatrix, Schedule, ShiftCalendar, ShiftWindow

EXTRA_BATCHES = ("B-DEMO-0003", "B-DEMO-0004")
DEMO_TIME_LIMIT = 3


def build_demo_schedules(ctx: Any) -> None:
    site = ctx.site
    if Schedule.objects.filter(site=site).exists():
        return
    planner = ctx.user(Role.PLANNER)
    if not ChangeoverMatrix.objects.filter(site=site, is_active=True).exists():
        ChangeoverMatrix.objects.create(
            site=site,
            name="Resin cell changeovers",
            minor_clean_minutes=60,
            major_clean_minutes=180,
            max_campaign_batches=4,
        )
        ctx.created("changeover matrix: minor 60 min, major 180 min, campaigns of 4 batches")
    label = WorkCenter.objects.filter(area__site=site, code="PK-LBL").first()
    if label is not None and not ShiftCalendar.objects.filter(work_center=label).exists():
        calendar = ShiftCalendar.objects.create(name="PK two shifts", work_center=label)
        for day in range(7):
            ShiftWindow.objects.create(calendar=calendar, weekday=day, start=time(6), end=time(22))
        ctx.created("shift calendar PK-LBL 06:00-22:00")
    recipe = MasterRecipe.objects.filter(code="RESIN-PA").first()
    version = recipe_version_current_approved(recipe) if recipe else None
    if version is not None:
        for number in EXTRA_BATCHES:
            if not BatchOrder.objects.filter(number=number).exists():
                batch_services.batch_order_create(
                    actor=planner,
                    recipe_version_id=version.pk,
                    batch_size=version.batch_size_reference,
                    number=number,
                )
                ctx.created(f"batch order {number} to schedule")
    published = services.schedule_create(
        actor=planner, site=site, note="demo: balanced", time_limit_seconds=DEMO_TIME_LIMIT
    )
    services.schedule_solve(schedule_id=published.pk, actor=planner)
    services.schedule_publish(actor=planner, schedule=published)
    ctx.created(f"schedule {published.number} solved and published")
    proposed = services.schedule_create(
        actor=planner,
        site=site,
        note="demo: shortest makespan",
        tardiness_weight=1,
        makespan_weight=10,
        time_limit_seconds=DEMO_TIME_LIMIT,
    )
    services.schedule_solve(schedule_id=proposed.pk, actor=planner)
    ctx.created(f"schedule {proposed.number} solved and left proposed")
