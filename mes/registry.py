"""Registries the plant apps contribute to, the way `django.core.checks.register` works.

- dashboard tiles: what a role sees on its home page;
- capability checks: what the production-model self-audit evaluates.
A lower app never imports a higher one: each app registers in its AppConfig.ready().
"""

from collections.abc import Callable
from dataclasses import dataclass, field


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
