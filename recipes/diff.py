"""Field-level diff between two recipe versions.

Elements are matched by structural path: unit procedures, operations and phases by position
("UP1/OP2/PH3"), parameters by name, inputs and outputs by material code:

    UP1/OP2/PH3.parameters[Temperature].high     changed  90 → 95
    UP1/OP2/PH4                                  added    Sample for viscosity
    UP1/OP1/PH2.inputs[RM-XYL]                   removed  300 kg ±1%
    batch_size_max                               changed  6000 → 8000

An added or removed element is one entry (its summary), not one per field. Values are the
canonical strings of recipes.content (numbers "2000", lists joined with ", ", None for empty).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from recipes.content import version_content
from recipes.models import RecipeVersion

HEADER_FIELDS = (
    "batch_size_min",
    "batch_size_max",
    "batch_size_reference",
    "batch_size_uom",
    "description",
    "change_summary",
)
NAMED_FIELDS = ("name", "description")
PHASE_FIELDS = (
    "name",
    "instructions",
    "can_run_parallel_with_previous",
    "hold_min_minutes",
    "hold_max_minutes",
    "requires_verification",
    "is_critical",
    "equipment_class",
    "min_volume_l",
    "capabilities",
)
PARAMETER_FIELDS = (
    "unit",
    "data_type",
    "choices",
    "target",
    "low_limit",
    "high_limit",
    "expected_text",
    "is_required",
    "instrument_required",
    "instrument_kind",
)
INPUT_FIELDS = ("quantity", "uom", "tolerance_pct", "is_scalable", "note")
OUTPUT_FIELDS = ("kind", "expected_quantity", "uom", "yield_low_pct", "yield_high_pct")
# How a field is named in a path ("...parameters[Temperature].high").
FIELD_ALIASES = {"low_limit": "low", "high_limit": "high"}


@dataclass(frozen=True)
class Change:
    path: str
    change: str  # "added", "removed" or "changed"
    old: Any = None
    new: Any = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else None
    if value == "":
        return None
    return value


def _summary_parameter(p: dict[str, Any]) -> str:
    parts = [p["data_type"]]
    if p["unit"]:
        parts.append(p["unit"])
    if p["target"] is not None:
        parts.append(f"target {p['target']}")
    if p["low_limit"] is not None or p["high_limit"] is not None:
        parts.append(f"limits {p['low_limit'] or '…'}–{p['high_limit'] or '…'}")
    if p["choices"]:
        parts.append("choices " + "/".join(p["choices"]))
    return f"{p['name']} (" + ", ".join(parts) + ")"


def _summary_input(i: dict[str, Any]) -> str:
    text = f"{i['quantity']} {i['uom']} ±{i['tolerance_pct']}%"
    return text if i["is_scalable"] else f"{text}, fixed"


def _summary_output(o: dict[str, Any]) -> str:
    kind = "product" if o["kind"] == "product" else "by-product"
    return (
        f"{kind} {o['expected_quantity']} {o['uom']}, yield {o['yield_low_pct']}–"
        f"{o['yield_high_pct']}%"
    )


@dataclass(frozen=True)
class _Group:
    """A list of child elements: how each is keyed, pathed, summarised and compared."""

    items: Callable[[dict[str, Any]], list[dict[str, Any]]]
    key: Callable[[int, dict[str, Any]], str]
    path: Callable[[str, str], str]
    fields: tuple[str, ...]
    summary: Callable[[dict[str, Any]], str]
    children: tuple["_Group", ...] = ()


def _child_path(parent: str, key: str) -> str:
    return f"{parent}/{key}" if parent else key


_PARAMETERS = _Group(
    items=lambda ph: ph["parameters"],
    key=lambda n, p: p["name"],
    path=lambda parent, key: f"{parent}.parameters[{key}]",
    fields=PARAMETER_FIELDS,
    summary=_summary_parameter,
)
_INPUTS = _Group(
    items=lambda ph: ph["inputs"],
    key=lambda n, i: i["material"],
    path=lambda parent, key: f"{parent}.inputs[{key}]",
    fields=INPUT_FIELDS,
    summary=_summary_input,
)
_OUTPUTS = _Group(
    items=lambda ph: ph["outputs"],
    key=lambda n, o: o["material"],
    path=lambda parent, key: f"{parent}.outputs[{key}]",
    fields=OUTPUT_FIELDS,
    summary=_summary_output,
)
_PHASES = _Group(
    items=lambda op: op["phases"],
    key=lambda n, ph: f"PH{n}",
    path=_child_path,
    fields=PHASE_FIELDS,
    summary=lambda ph: ph["name"],
    children=(_PARAMETERS, _INPUTS, _OUTPUTS),
)
_OPERATIONS = _Group(
    items=lambda up: up["operations"],
    key=lambda n, op: f"OP{n}",
    path=_child_path,
    fields=NAMED_FIELDS,
    summary=lambda op: op["name"],
    children=(_PHASES,),
)
_UNIT_PROCEDURES = _Group(
    items=lambda v: v["unit_procedures"],
    key=lambda n, up: f"UP{n}",
    path=_child_path,
    fields=NAMED_FIELDS,
    summary=lambda up: up["name"],
    children=(_OPERATIONS,),
)


def _field_path(node_path: str, field: str) -> str:
    name = FIELD_ALIASES.get(field, field)
    return f"{node_path}.{name}" if node_path else name


def _compare_fields(
    path: str, fields: tuple[str, ...], old: dict[str, Any], new: dict[str, Any]
) -> list[Change]:
    changes = []
    for field in fields:
        before, after = _value(old.get(field)), _value(new.get(field))
        if before != after:
            changes.append(Change(_field_path(path, field), "changed", before, after))
    return changes


def _compare_group(
    group: _Group, parent_path: str, old_parent: dict[str, Any], new_parent: dict[str, Any]
) -> list[Change]:
    old_items = {group.key(n, item): item for n, item in enumerate(group.items(old_parent), 1)}
    new_items = {group.key(n, item): item for n, item in enumerate(group.items(new_parent), 1)}
    keys = list(new_items) + [k for k in old_items if k not in new_items]
    changes: list[Change] = []
    for key in keys:
        path = group.path(parent_path, key)
        before, after = old_items.get(key), new_items.get(key)
        if before is None:
            changes.append(Change(path, "added", None, group.summary(after)))
        elif after is None:
            changes.append(Change(path, "removed", group.summary(before), None))
        else:
            changes += _compare_fields(path, group.fields, before, after)
            for child in group.children:
                changes += _compare_group(child, path, before, after)
    return changes


def diff_contents(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """The changes from content dict `old` to `new` (recipes.content.version_content)."""
    changes = _compare_fields("", HEADER_FIELDS, old, new)
    changes += _compare_group(_UNIT_PROCEDURES, "", old, new)
    return changes


def diff_versions(old: RecipeVersion, new: RecipeVersion) -> list[Change]:
    """Field-level changes from version `old` to version `new` (any two versions), as stored."""
    stored = RecipeVersion.objects.select_related("recipe", "recipe__product").in_bulk(
        [old.pk, new.pk]
    )
    return diff_contents(version_content(stored[old.pk]), version_content(stored[new.pk]))


def diff_counts(changes: list[Change]) -> dict[str, int]:
    counts = {"added": 0, "removed": 0, "changed": 0}
    for change in changes:
        counts[change.change] += 1
    return counts
