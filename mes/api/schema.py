"""OpenAPI: every operation documents the one error body (`Error`: code, detail, errors).

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds, where
an operation does not declare its own: 401 and 403 everywhere, 404 on paths with a record id,
400 and 409 on writes.
"""

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "description": "The body of every error answer (see mes/api/__init__.py).",
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable machine-readable reason, e.g. `conflict`.",
        },
        "detail": {"type": "string", "description": "What happened, in words for the person."},
        "errors": {
            "type": "object",
            "additionalProperties": {},
            "description": "For `invalid_input`: the messages by field.",
        },
    },
    "required": ["code", "detail"],
}
DESCRIPTIONS = {
    "400": "Invalid input (`invalid_input` with `errors` by field) or a rule of the plant refused it.",
    "401": "Not authenticated: send `Authorization: Token <key>` or log in.",
    "403": "Authenticated, but the role, permission or area scope does not allow it.",
    "404": "No such record, or not in the areas you may see.",
    "409": "The record's state does not allow it, or another user changed it first.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _statuses(path: str, method: str) -> list[str]:
    statuses = ["401", "403"]
    if "{" in path:
        statuses.append("404")
    if method in WRITE_METHODS:
        statuses += ["400", "409"]
    return statuses


def add_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR_SCHEMA)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method):
                responses.setdefault(
                    status,
                    {
                        "content": {"application/json": {"schema": ERROR_REF}},
                        "description": DESCRIPTIONS[status],
                    },
                )
    return result


def model_enum_names() -> dict[str, list[tuple[Any, str]]]:
    """One stable name per choice set of the models: `<Model><Field>Enum` (AreaKindEnum,
    BatchStatusEnum). drf-spectacular otherwise names an enum after its field alone and, once a
    second app has a `status` of its own, renames both with a hash, which breaks the clients an
    ERP team generated from the schema. A set shared by several fields keeps the first name
    (models sorted by label)."""
    from django.apps import apps
    from drf_spectacular.plumbing import list_hash

    names: dict[str, list[tuple[Any, str]]] = {}
    seen: set[str] = set()
    for model in sorted(apps.get_models(), key=lambda m: m._meta.label):
        if model.__module__.startswith("simple_history") or model.__name__.startswith("Historical"):
            continue
        for field in model._meta.get_fields():
            choices = getattr(field, "flatchoices", None)
            if not choices or not getattr(field, "concrete", False):
                continue
            values = tuple(
                (value, str(label)) for value, label in choices if value not in ("", None)
            )
            key = list_hash(values) if values else ""
            if not values or key in seen:
                continue
            seen.add(key)
            camel = "".join(part.capitalize() for part in field.name.split("_"))
            names[f"{model.__name__}{camel}Enum"] = list(values)
    return names


def postprocess_schema_enums(result: dict[str, Any], generator: Any, **kwargs: Any) -> Any:
    """drf-spectacular's enum hook, with the models' choice sets named (see above). Entries of
    SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] still win."""
    from drf_spectacular.hooks import postprocess_schema_enums as name_enums
    from drf_spectacular.plumbing import _load_enum_name_overrides
    from drf_spectacular.settings import patched_settings, spectacular_settings

    configured = dict(spectacular_settings.ENUM_NAME_OVERRIDES)
    taken = set(configured)
    overrides = {name: c for name, c in model_enum_names().items() if name not in taken}
    overrides.update(configured)
    _load_enum_name_overrides.cache_clear()
    try:
        with patched_settings({"ENUM_NAME_OVERRIDES": overrides}):
            return name_enums(result, generator, **kwargs)
    finally:
        _load_enum_name_overrides.cache_clear()
