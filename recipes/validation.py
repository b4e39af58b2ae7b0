"""Input cleaning of recipe elements, shared by the editing services, the tree import and the
copy into a new version. Each cleaner takes a plain dict (from a form, the API or a content
dict), returns the model field values, and raises RecipeInvalid naming the field."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from equipment.choices import InstrumentKind
from equipment.models import Capability, EquipmentClass
from genealogy.choices import UOM_DIMENSIONS, UnitOfMeasure
from genealogy.models import Material
from recipes.choices import YES_NO_VALUES, OutputKind, ParameterDataType
from recipes.exceptions import RecipeInvalid

PLACES_QUANTITY = 6
PLACES_PERCENT = 3
MAX_QUANTITY = Decimal("999999999999")
MAX_PERCENT = Decimal("9999")
MAX_MINUTES = 60 * 24 * 365


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def text(
    value: Any, *, field: str, label: str, max_length: int, required: bool = False, path: str = ""
) -> str:
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise RecipeInvalid(f"The {label} is required.", field=field, path=path)
    if len(result) > max_length:
        raise RecipeInvalid(
            f"The {label} is longer than {max_length} characters.", field=field, path=path
        )
    return result


def boolean(value: Any, *, field: str, label: str, path: str = "") -> bool:
    if isinstance(value, bool):
        return value
    if _blank(value):
        return False
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise RecipeInvalid(f"The {label} must be yes or no.", field=field, path=path)


def decimal(
    value: Any,
    *,
    field: str,
    label: str,
    places: int = PLACES_QUANTITY,
    required: bool = False,
    minimum: Decimal | None = None,
    maximum: Decimal = MAX_QUANTITY,
    exclusive_minimum: bool = False,
    path: str = "",
) -> Decimal | None:
    if _blank(value):
        if required:
            raise RecipeInvalid(f"The {label} is required.", field=field, path=path)
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RecipeInvalid(
            f"The {label} {value!r} is not a number.", field=field, path=path
        ) from None
    if not number.is_finite():
        raise RecipeInvalid(f"The {label} must be a finite number.", field=field, path=path)
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise RecipeInvalid(
            f"The {label} {value} has more than {places} decimal places.", field=field, path=path
        )
    if abs(number) > maximum:
        raise RecipeInvalid(f"The {label} {value} is too large.", field=field, path=path)
    if minimum is not None:
        if exclusive_minimum and number <= minimum:
            raise RecipeInvalid(
                f"The {label} must be greater than {minimum}.", field=field, path=path
            )
        if not exclusive_minimum and number < minimum:
            raise RecipeInvalid(f"The {label} must be at least {minimum}.", field=field, path=path)
    return number.quantize(step)


def minutes(value: Any, *, field: str, label: str, path: str = "") -> int | None:
    if _blank(value):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise RecipeInvalid(
            f"The {label} must be a whole number of minutes.", field=field, path=path
        ) from None
    if number < 0 or number > MAX_MINUTES:
        raise RecipeInvalid(
            f"The {label} must be between 0 and {MAX_MINUTES} minutes.", field=field, path=path
        )
    return number


def same_dimension(uom: str, material: Material, *, field: str, path: str = "") -> None:
    if UOM_DIMENSIONS[uom][0] != UOM_DIMENSIONS[material.uom][0]:
        raise RecipeInvalid(
            f"{material.code} is counted in {material.uom}; {uom} is not the same kind of "
            f"quantity.",
            field=field,
            path=path,
        )


def uom(value: Any, *, field: str, default: str, path: str = "") -> str:
    chosen = default if _blank(value) else str(value).strip()
    if chosen not in UnitOfMeasure.values:
        raise RecipeInvalid(
            f"Unknown unit of measure {chosen!r} (one of {', '.join(UnitOfMeasure.values)}).",
            field=field,
            path=path,
        )
    return chosen


@dataclass
class Lookups:
    """Materials, equipment classes and capabilities by their codes/names, loaded at most once
    per service call (a 20-phase tree is resolved in three queries)."""

    materials: dict[str, Material] = field(default_factory=dict)
    classes: dict[str, EquipmentClass] | None = None
    capabilities: dict[str, Capability] | None = None

    def preload_materials(self, codes: Iterable[str]) -> None:
        wanted = {c for c in codes if c and c not in self.materials}
        if wanted:
            for m in Material.objects.filter(code__in=wanted):
                self.materials[m.code] = m

    def material(self, value: Any, *, field: str = "material", path: str = "") -> Material:
        if isinstance(value, Material):
            return value
        if _blank(value):
            raise RecipeInvalid("The material is required.", field=field, path=path)
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            found = Material.objects.filter(pk=int(value)).first()
            if found is not None:
                return found
        code = str(value).strip()
        if code not in self.materials:
            found = Material.objects.filter(code__iexact=code).first()
            if found is None:
                raise RecipeInvalid(
                    f"There is no material {code!r} in the material master.",
                    field=field,
                    path=path,
                )
            self.materials[code] = found
        return self.materials[code]

    def equipment_class(self, value: Any, *, path: str = "") -> EquipmentClass | None:
        if isinstance(value, EquipmentClass) or value is None:
            return value
        if _blank(value):
            return None
        if self.classes is None:
            self.classes = {c.name.lower(): c for c in EquipmentClass.objects.all()}
            self.classes.update({str(c.pk): c for c in list(self.classes.values())})
        found = self.classes.get(str(value).strip().lower())
        if found is None:
            raise RecipeInvalid(
                f"There is no equipment class {value!r}.", field="equipment_class", path=path
            )
        return found

    def capability_list(self, values: Any, *, path: str = "") -> list[Capability]:
        if _blank(values):
            return []
        if isinstance(values, str):
            values = values.replace(";", ",").split(",")
        result: list[Capability] = []
        for value in values:
            if isinstance(value, Capability):
                result.append(value)
                continue
            if _blank(value):
                continue
            if self.capabilities is None:
                self.capabilities = {c.code.lower(): c for c in Capability.objects.all()}
                self.capabilities.update({str(c.pk): c for c in list(self.capabilities.values())})
            found = self.capabilities.get(str(value).strip().lower())
            if found is None:
                raise RecipeInvalid(
                    f"There is no equipment capability {value!r}.",
                    field="capabilities",
                    path=path,
                )
            if found not in result:
                result.append(found)
        return result


# --- the elements ----------------------------------------------------------------------------


def clean_header(data: dict[str, Any], *, product: Material) -> dict[str, Any]:
    values = {
        "batch_size_min": decimal(
            data.get("batch_size_min"),
            field="batch_size_min",
            label="smallest batch size",
            required=True,
            minimum=Decimal(0),
            exclusive_minimum=True,
        ),
        "batch_size_max": decimal(
            data.get("batch_size_max"),
            field="batch_size_max",
            label="largest batch size",
            required=True,
            minimum=Decimal(0),
            exclusive_minimum=True,
        ),
        "batch_size_reference": decimal(
            data.get("batch_size_reference"),
            field="batch_size_reference",
            label="reference batch size",
            required=True,
            minimum=Decimal(0),
            exclusive_minimum=True,
        ),
        "batch_size_uom": uom(
            data.get("batch_size_uom"), field="batch_size_uom", default=product.uom
        ),
        "description": text(
            data.get("description"), field="description", label="description", max_length=5000
        ),
        "change_summary": text(
            data.get("change_summary"),
            field="change_summary",
            label="change summary",
            max_length=5000,
        ),
    }
    same_dimension(values["batch_size_uom"], product, field="batch_size_uom")
    if values["batch_size_min"] > values["batch_size_max"]:
        raise RecipeInvalid(
            f"The smallest batch size {values['batch_size_min'].normalize():f} is above the "
            f"largest {values['batch_size_max'].normalize():f}.",
            field="batch_size_min",
        )
    if not values["batch_size_min"] <= values["batch_size_reference"] <= values["batch_size_max"]:
        raise RecipeInvalid(
            "The reference batch size must lie within the batch size range.",
            field="batch_size_reference",
        )
    return values


def clean_named(data: dict[str, Any], *, what: str, path: str = "") -> dict[str, Any]:
    """Unit procedures and operations: a name and a description."""
    return {
        "name": text(
            data.get("name"),
            field="name",
            label=f"{what} name",
            max_length=200,
            required=True,
            path=path,
        ),
        "description": text(
            data.get("description"),
            field="description",
            label="description",
            max_length=5000,
            path=path,
        ),
    }


def clean_phase(data: dict[str, Any], *, lookups: Lookups, path: str = "") -> dict[str, Any]:
    """Phase field values plus "capabilities" (a list of Capability)."""
    values: dict[str, Any] = {
        "name": text(
            data.get("name"),
            field="name",
            label="phase name",
            max_length=200,
            required=True,
            path=path,
        ),
        "instructions": text(
            data.get("instructions"),
            field="instructions",
            label="operator instructions",
            max_length=20000,
            path=path,
        ),
        "can_run_parallel_with_previous": boolean(
            data.get("can_run_parallel_with_previous"),
            field="can_run_parallel_with_previous",
            label="parallel flag",
            path=path,
        ),
        "hold_min_minutes": minutes(
            data.get("hold_min_minutes"),
            field="hold_min_minutes",
            label="minimum hold time",
            path=path,
        ),
        "hold_max_minutes": minutes(
            data.get("hold_max_minutes"),
            field="hold_max_minutes",
            label="maximum hold time",
            path=path,
        ),
        "requires_verification": boolean(
            data.get("requires_verification"),
            field="requires_verification",
            label="verification flag",
            path=path,
        ),
        "is_critical": boolean(
            data.get("is_critical"), field="is_critical", label="critical flag", path=path
        ),
        "equipment_class": lookups.equipment_class(data.get("equipment_class"), path=path),
        "min_volume_l": decimal(
            data.get("min_volume_l"),
            field="min_volume_l",
            label="minimum working volume",
            places=2,
            minimum=Decimal(0),
            exclusive_minimum=True,
            maximum=Decimal("9999999999"),
            path=path,
        ),
        "capabilities": lookups.capability_list(data.get("capabilities"), path=path),
    }
    low, high = values["hold_min_minutes"], values["hold_max_minutes"]
    if low is not None and high is not None and low > high:
        raise RecipeInvalid(
            f"The minimum hold time ({low} min) is longer than the maximum ({high} min).",
            field="hold_min_minutes",
            path=path,
        )
    if values["is_critical"]:
        # A critical step is always verified by a second person.
        values["requires_verification"] = True
    if values["equipment_class"] is None and (values["min_volume_l"] or values["capabilities"]):
        raise RecipeInvalid(
            "Name the equipment class that the volume and capabilities apply to.",
            field="equipment_class",
            path=path,
        )
    return values


def _choices(value: Any, *, path: str) -> list[str]:
    if _blank(value):
        return []
    if isinstance(value, str):
        value = value.replace("\n", ",").replace(";", ",").split(",")
    result: list[str] = []
    for item in value:
        choice = str(item).strip()
        if not choice:
            continue
        if len(choice) > 100:
            raise RecipeInvalid(
                "A choice is longer than 100 characters.", field="choices", path=path
            )
        if choice.lower() in {c.lower() for c in result}:
            raise RecipeInvalid(
                f"The choice {choice!r} is listed twice.", field="choices", path=path
            )
        result.append(choice)
    return result


def clean_parameter(data: dict[str, Any], *, path: str = "") -> dict[str, Any]:
    data_type = str(data.get("data_type") or ParameterDataType.NUMBER).strip()
    if data_type not in ParameterDataType.values:
        raise RecipeInvalid(
            f"Unknown data type {data_type!r} (one of {', '.join(ParameterDataType.values)}).",
            field="data_type",
            path=path,
        )
    number = data_type == ParameterDataType.NUMBER
    values: dict[str, Any] = {
        "name": text(
            data.get("name"),
            field="name",
            label="parameter name",
            max_length=80,
            required=True,
            path=path,
        ),
        "unit": text(data.get("unit"), field="unit", label="unit", max_length=20, path=path),
        "data_type": data_type,
        "choices": _choices(data.get("choices"), path=path),
        "expected_text": text(
            data.get("expected_text"),
            field="expected_text",
            label="expected answer",
            max_length=200,
            path=path,
        ),
        "is_required": boolean(
            True if data.get("is_required") is None else data.get("is_required"),
            field="is_required",
            label="required flag",
            path=path,
        ),
        "instrument_required": boolean(
            data.get("instrument_required"),
            field="instrument_required",
            label="instrument flag",
            path=path,
        ),
        "instrument_kind": text(
            data.get("instrument_kind"),
            field="instrument_kind",
            label="instrument kind",
            max_length=30,
            path=path,
        ),
    }
    for name, label in (
        ("target", "target"),
        ("low_limit", "low limit"),
        ("high_limit", "high limit"),
    ):
        raw = data.get(name)
        if not number and not _blank(raw):
            raise RecipeInvalid(f"Only a number parameter has a {label}.", field=name, path=path)
        values[name] = decimal(raw, field=name, label=label, path=path) if number else None
    low, target, high = values["low_limit"], values["target"], values["high_limit"]
    if low is not None and high is not None and low > high:
        raise RecipeInvalid(
            f"The low limit {low.normalize():f} is above the high limit {high.normalize():f}.",
            field="low_limit",
            path=path,
        )
    if target is not None and (
        (low is not None and target < low) or (high is not None and target > high)
    ):
        raise RecipeInvalid(
            f"The target {target.normalize():f} lies outside the limits.", field="target", path=path
        )
    if data_type == ParameterDataType.CHOICE:
        if len(values["choices"]) < 2:
            raise RecipeInvalid(
                "A choice parameter needs at least two choices.", field="choices", path=path
            )
    elif values["choices"]:
        raise RecipeInvalid("Only a choice parameter has choices.", field="choices", path=path)
    expected = values["expected_text"]
    if expected:
        if data_type == ParameterDataType.YES_NO:
            expected = expected.lower()
            if expected not in YES_NO_VALUES:
                raise RecipeInvalid(
                    "The expected answer of a yes/no parameter is yes or no.",
                    field="expected_text",
                    path=path,
                )
            values["expected_text"] = expected
        elif data_type == ParameterDataType.CHOICE:
            if expected not in values["choices"]:
                raise RecipeInvalid(
                    f"The expected answer {expected!r} is not one of the choices.",
                    field="expected_text",
                    path=path,
                )
        else:
            raise RecipeInvalid(
                "Only a yes/no or choice parameter has an expected answer.",
                field="expected_text",
                path=path,
            )
    if values["instrument_required"] and not number:
        raise RecipeInvalid(
            "Only a number parameter can require an instrument reading.",
            field="instrument_required",
            path=path,
        )
    kind = values["instrument_kind"]
    if kind:
        if kind not in InstrumentKind.values:
            raise RecipeInvalid(
                f"Unknown instrument kind {kind!r}.", field="instrument_kind", path=path
            )
        if not values["instrument_required"]:
            raise RecipeInvalid(
                "An instrument kind applies only when an instrument reading is required.",
                field="instrument_kind",
                path=path,
            )
    return values


def clean_input(data: dict[str, Any], *, lookups: Lookups, path: str = "") -> dict[str, Any]:
    material = lookups.material(data.get("material"), path=path)
    values = {
        "material": material,
        "quantity": decimal(
            data.get("quantity"),
            field="quantity",
            label="quantity",
            required=True,
            minimum=Decimal(0),
            exclusive_minimum=True,
            path=path,
        ),
        "uom": uom(data.get("uom"), field="uom", default=material.uom, path=path),
        "tolerance_pct": decimal(
            "0" if _blank(data.get("tolerance_pct")) else data.get("tolerance_pct"),
            field="tolerance_pct",
            label="tolerance",
            places=PLACES_PERCENT,
            minimum=Decimal(0),
            maximum=Decimal(100),
            path=path,
        ),
        "is_scalable": boolean(
            True if data.get("is_scalable") is None else data.get("is_scalable"),
            field="is_scalable",
            label="scalable flag",
            path=path,
        ),
        "note": text(data.get("note"), field="note", label="note", max_length=200, path=path),
    }
    same_dimension(values["uom"], material, field="uom", path=path)
    return values


def clean_output(data: dict[str, Any], *, lookups: Lookups, path: str = "") -> dict[str, Any]:
    material = lookups.material(data.get("material"), path=path)
    kind = str(data.get("kind") or OutputKind.PRODUCT).strip()
    if kind not in OutputKind.values:
        raise RecipeInvalid(
            f"Unknown output kind {kind!r} (product or by_product).", field="kind", path=path
        )
    values = {
        "material": material,
        "kind": kind,
        "expected_quantity": decimal(
            data.get("expected_quantity"),
            field="expected_quantity",
            label="expected quantity",
            required=True,
            minimum=Decimal(0),
            exclusive_minimum=True,
            path=path,
        ),
        "uom": uom(data.get("uom"), field="uom", default=material.uom, path=path),
        "yield_low_pct": decimal(
            data.get("yield_low_pct"),
            field="yield_low_pct",
            label="lowest yield",
            places=PLACES_PERCENT,
            required=True,
            minimum=Decimal(0),
            maximum=MAX_PERCENT,
            path=path,
        ),
        "yield_high_pct": decimal(
            data.get("yield_high_pct"),
            field="yield_high_pct",
            label="highest yield",
            places=PLACES_PERCENT,
            required=True,
            minimum=Decimal(0),
            maximum=MAX_PERCENT,
            path=path,
        ),
    }
    same_dimension(values["uom"], material, field="uom", path=path)
    if values["yield_low_pct"] > values["yield_high_pct"]:
        raise RecipeInvalid(
            "The lowest yield is above the highest yield.", field="yield_low_pct", path=path
        )
    return values
