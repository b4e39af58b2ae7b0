"""Registries the plant apps contribute to, the way `django.core.checks.register` works.

- dashboard tiles: what a role sees on its home page;
- capability checks: what the production-model self-audit evaluates;
- installation facts: what the installation holds (approved recipes, routings, handoff rules),
  the data side of the self-audit's step 1;
- demo steps: the part of the demo plant each app builds (`manage.py load_demo`);
- scan resolvers: where a code scanned on a terminal leads.
- plant metrics: the figures of the analytics dashboard.
A lower app never imports a higher one: each app registers in its AppConfig.ready(), or in its
`checks.py` / `metrics.py`, which `autodiscover()` imports at start-up.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tile:
    """A link on a role's home page."""

    key: str
    title: str
    url_name: str
    roles: tuple[str, ...]
    description: str = ""
    order: int = 100
    icon: str = ""


# --- Capability checks (the production-model self-audit) ------------------------------------
# Each app contributes its checklist items in `<app>/checks.py` (imported by `autodiscover()`
# at start-up, the way Django's admin finds `admin.py`):
#
#     register_check(CapabilityCheck(key="batches.records_complete", title=..., model="process",
#                                    evaluate=records_complete, symptom="paper_batch_records"))
#
# `evaluate(period)` gets a `Period` and returns a `CheckResult`. It must only read.


@dataclass(frozen=True)
class Period:
    """The half-open time range [start, end) an assessment looks at (aware datetimes)."""

    start: Any
    end: Any


@dataclass
class Evidence:
    """One fact behind a result: a label, a value, and where to see it (a URL, or "")."""

    label: str
    value: Any
    url: str = ""


@dataclass
class CheckResult:
    """The outcome of one checklist item.

    status: "pass", "warning", "fail" or "not_applicable" (nothing in the period to judge);
    summary: one sentence a plant manager understands ("3 of 41 batches ran on a superseded
    version"); evidence: the counts and links; measured: numbers for the trend (JSON-able).
    """

    status: str
    summary: str
    evidence: list[Evidence] = field(default_factory=list)
    measured: dict[str, Any] = field(default_factory=dict)

    PASS = "pass"  # noqa: S105 (a status, not a password)
    WARNING = "warning"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class CapabilityCheck:
    """One checklist item of the self-audit.

    model: "process", "discrete" or "shared" (which step-2/3 checklist it belongs to);
    symptom: the key of the step-4 architecture-mismatch symptom this item detects ("" if none;
    see `SYMPTOMS`); fixed_by: the capability (in the plant's words) that removes the symptom.
    """

    key: str
    title: str
    model: str
    evaluate: Callable[[Period], CheckResult]
    symptom: str = ""
    fixed_by: str = ""
    order: int = 100
    tags: tuple[str, ...] = field(default_factory=tuple)


# The seven architecture-mismatch symptoms of the seed document's Step 4 table.
SYMPTOMS: dict[str, str] = {
    "paper_batch_records": "Batch records assembled from paper",
    "old_recipe_versions": "Old recipe versions in use",
    "slow_lot_recall": "Slow lot recall",
    "zero_labor_variance": "Zero labor variance",
    "missing_component_linkage": "Missing component-to-unit linkage",
    "vessel_blind_scheduling": "Vessel-blind scheduling",
    "scrap_not_by_operation": "Scrap not captured by operation",
}


_tiles: dict[str, Tile] = {}
_checks: dict[str, CapabilityCheck] = {}


def register_tile(tile: Tile) -> Tile:
    _tiles[tile.key] = tile
    return tile


def tiles_for_roles(roles: set[str], *, is_superuser: bool = False) -> list[Tile]:
    found = [t for t in _tiles.values() if is_superuser or roles.intersection(t.roles)]
    return sorted(found, key=lambda t: (t.order, t.title))


def register_check(check: CapabilityCheck) -> CapabilityCheck:
    _checks[check.key] = check
    return check


def unregister_check(key: str) -> None:
    _checks.pop(key, None)


def capability_checks() -> list[CapabilityCheck]:
    return sorted(_checks.values(), key=lambda c: (c.order, c.key))


# --- Installation facts (step 1 of the self-audit: which production model runs here) ------
# Next to the questionnaire, step 1 looks at what the installation itself holds. Each app
# contributes its facts from its `checks.py`:
#
#     register_fact(InstallationFact(key="recipes.approved", title="Approved master recipes",
#                                    indicates="process", count=approved_recipe_count))
#
# `count(period)` returns a number (read only, one aggregate query); `indicates` says which
# production model a non-zero count is evidence of: "process", "discrete" or "mixed" (a
# process-to-discrete handoff).


@dataclass(frozen=True)
class InstallationFact:
    key: str
    title: str
    indicates: str
    count: Callable[[Period], int]
    order: int = 100
    url_name: str = ""


_facts: dict[str, InstallationFact] = {}


def register_fact(fact: InstallationFact) -> InstallationFact:
    _facts[fact.key] = fact
    return fact


def unregister_fact(key: str) -> None:
    _facts.pop(key, None)


def installation_facts() -> list[InstallationFact]:
    return sorted(_facts.values(), key=lambda f: (f.order, f.key))


# --- Plant metrics (the analytics dashboard) --------------------------------------------------
# Each app contributes the figures it owns in `<app>/metrics.py`:
#
#     register_metric(Metric(key="workorders.oee", title="OEE per work center", unit="%",
#                            compute=oee_per_work_center, group="oee"))
#
# `compute(period, **filters)` returns a `MetricResult`: one or more named series of
# (bucket start, value) points for the charts, and rows for the table under the chart.
# The dashboard (`mes/analytics/`, contract in its README) passes `bucket` ("day", "week" or
# "month"; `mes.analytics.buckets.trunc(field, bucket)` groups a query by it) and the filters
# the metric declares in `filters` ("work_center", "unit", "product": codes), when given.
# A bar chart's series are keyed by category (a work center's code) instead of a date.


@dataclass
class MetricResult:
    """series: {"RX-101": [(date, 87.5), ...]}; rows: table rows (dicts with the same keys);
    columns: the row keys in display order; note: how the figure was computed."""

    series: dict[str, list[tuple[Any, float | None]]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    note: str = ""


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str
    compute: Callable[..., MetricResult]
    group: str = ""
    order: int = 100
    description: str = ""
    chart: str = "line"  # "line" or "bar"
    filters: tuple[str, ...] = ()  # the dashboard filters that apply ("work_center", ...)


_metrics: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    _metrics[metric.key] = metric
    return metric


def unregister_metric(key: str) -> None:
    _metrics.pop(key, None)


def metrics() -> list[Metric]:
    return sorted(_metrics.values(), key=lambda m: (m.order, m.key))


def autodiscover() -> None:
    """Import every installed app's `checks` and `metrics` modules (they register themselves)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("checks", "metrics")


# --- Demo plant -----------------------------------------------------------------------------
# `manage.py load_demo` builds the platform part (site, areas, one user per role, area rights)
# and then runs every registered step in order. Each plant app registers the part of the demo
# plant it owns in its AppConfig.ready():
#
#     register_demo_step("equipment.units", build_demo_units, order=200)
#
# A step receives a DemoContext, must be idempotent (look up before creating) and reports what
# it created with `ctx.created(...)`, so that a second run can say "nothing changed".


@dataclass
class DemoContext:
    """What the platform part of the demo built, handed to every demo step."""

    actor: Any
    site: Any
    areas: dict[str, Any]
    users: dict[str, Any]
    password: str
    write: Callable[[str], None] = print
    changes: list[str] = field(default_factory=list)

    def created(self, what: str) -> None:
        """Record (and print) one change the step made."""
        self.changes.append(what)
        self.write(f"  + {what}")

    def user(self, role: str) -> Any:
        """The demo user of `role` (a `Role` value)."""
        return self.users[role]


@dataclass(frozen=True)
class DemoStep:
    key: str
    fn: Callable[[DemoContext], None]
    order: int = 100
    title: str = ""


_demo_steps: dict[str, DemoStep] = {}


def register_demo_step(
    key: str, fn: Callable[[DemoContext], None], order: int = 100, *, title: str = ""
) -> DemoStep:
    """Register (or replace, by key) one part of the demo plant. Lower `order` runs first;
    the platform part runs before every step (think of it as order 0)."""
    step = DemoStep(key=key, fn=fn, order=order, title=title or key)
    _demo_steps[key] = step
    return step


def demo_steps() -> list[DemoStep]:
    return sorted(_demo_steps.values(), key=lambda s: (s.order, s.key))


def unregister_demo_step(key: str) -> None:
    _demo_steps.pop(key, None)


# --- Scan resolvers -------------------------------------------------------------------------
# The terminal's scan box (`/scan/`) asks each resolver, in order, where a scanned code leads:
#
#     register_scan_resolver("batches.batch", resolve_batch_code, order=100)
#
# A resolver gets (code, user) and returns a URL the user may open, or None if the code is not
# one of its records (or not visible to the user).


@dataclass(frozen=True)
class ScanResolver:
    key: str
    resolve: Callable[[str, Any], str | None]
    order: int = 100


_scan_resolvers: dict[str, ScanResolver] = {}


def register_scan_resolver(
    key: str, resolve: Callable[[str, Any], str | None], order: int = 100
) -> ScanResolver:
    resolver = ScanResolver(key=key, resolve=resolve, order=order)
    _scan_resolvers[key] = resolver
    return resolver


def scan_resolvers() -> list[ScanResolver]:
    return sorted(_scan_resolvers.values(), key=lambda r: (r.order, r.key))


def unregister_scan_resolver(key: str) -> None:
    _scan_resolvers.pop(key, None)
