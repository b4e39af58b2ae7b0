"""The canonical content hash that binds a signature to its record (21 CFR 11.70).

    sha256( canonical_json({"type": "<app_label>.<model>", "id": "<pk>", "content": {...}}) )

`content` is `record.signature_content()` when the model defines it (the fields that the
signature vouches for), else every concrete field value except auto-updated timestamps
(`auto_now=True`), keyed by attribute name (`site_id`, not `site`). Canonical JSON: sorted
keys, no whitespace, UTF-8; Decimal, date, datetime, time, UUID as strings (ISO 8601 for
dates), bytes as hex. The record's type and id are part of the hash, so a signature row moved
to another record no longer matches; any later change of the content no longer matches either.
"""

import datetime
import decimal
import hashlib
import json
import uuid
from typing import Any

from django.db import models
from django.db.models.fields.files import FieldFile

HASH_ALG = "sha256-c14n-v1"


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value.total_seconds())
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot canonicalise {type(value).__name__} for a signature hash")


def canonical_json(data: Any) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def record_type_label(record: models.Model | type[models.Model]) -> str:
    return record._meta.concrete_model._meta.label_lower


def record_content(record: models.Model) -> Any:
    custom = getattr(record, "signature_content", None)
    if callable(custom):
        return custom()
    content = {}
    for field in record._meta.concrete_model._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            continue
        content[field.attname] = field.value_from_object(record)
    return content


def record_content_hash(record: models.Model) -> str:
    """sha256 hex digest over the canonical JSON of the record's type, id and content."""
    if record.pk is None:
        raise ValueError("an unsaved record cannot be signed")
    payload = {
        "type": record_type_label(record),
        "id": str(record.pk),
        "content": record_content(record),
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()
