"""Registries the plant apps contribute to, the way `django.core.checks.register` works.

- dashboard tiles: what a role sees on its home page;
- capability checks: what the production-model self-audit evaluates;
- demo steps: the part of the demo plant each app builds (`manage.py load_demo`);
- scan resolvers: where a code scanned on a terminal leads.
A lower app never imports a higher one: each app registers in its AppConfig.ready().
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


@dataclass(frozen=True)
class CapabilityCheck:
    """One checklist item of the self-audit; `evaluate(period)` returns a result dict."""

    key: str
    title: str
    model: str  # "process", "discrete" or "shared"
    evaluate: Callable[..., dict]
    symptom: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


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


def capability_checks() -> list[CapabilityCheck]:
    return list(_checks.values())


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
