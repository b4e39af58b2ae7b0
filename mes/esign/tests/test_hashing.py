"""The canonical content hash that links a signature to its record (P11-S-03)."""

import datetime
import hashlib
from decimal import Decimal
from types import SimpleNamespace

from django.contrib.auth.models import Group
from django.db import models

from mes.esign.hashing import canonical_json, record_content, record_content_hash


def _stamped_row(**values):
    """A stand-in for a model instance with an auto-updated timestamp (a real test-only model
    would need a migration)."""
    fields = []
    for name, field in [
        ("id", models.BigAutoField(primary_key=True)),
        ("name", models.CharField(max_length=10)),
        ("amount", models.DecimalField(max_digits=6, decimal_places=2)),
        ("updated_at", models.DateTimeField(auto_now=True)),
    ]:
        field.set_attributes_from_name(name)
        fields.append(field)
    meta = SimpleNamespace(concrete_fields=fields, label_lower="test.stamped")
    meta.concrete_model = SimpleNamespace(_meta=meta)
    return SimpleNamespace(_meta=meta, pk=values["id"], **values)


def test_canonical_json_sorts_keys_drops_whitespace_and_stringifies():
    data = {
        "b": Decimal("1.50"),
        "a": datetime.date(2026, 11, 24),
        "c": datetime.datetime(2026, 11, 24, 17, 5, 3, tzinfo=datetime.UTC),
        "d": [1, "ü"],
    }
    assert canonical_json(data) == (
        '{"a":"2026-11-24","b":"1.50","c":"2026-11-24T17:05:03+00:00","d":[1,"ü"]}'
    )


def test_record_hash_is_sha256_over_type_id_and_content():
    group = Group(pk=7, name="Line 1")
    expected = hashlib.sha256(
        b'{"content":{"id":7,"name":"Line 1"},"id":"7","type":"auth.group"}'
    ).hexdigest()
    assert record_content_hash(group) == expected


def test_the_id_is_part_of_the_hash():
    assert record_content_hash(Group(pk=7, name="x")) != record_content_hash(Group(pk=8, name="x"))


def test_auto_updated_timestamps_are_not_content():
    row = _stamped_row(
        id=1,
        name="a",
        amount=Decimal("2.50"),
        updated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )
    assert record_content(row) == {"id": 1, "name": "a", "amount": Decimal("2.50")}
    before = record_content_hash(row)
    row.updated_at = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    assert record_content_hash(row) == before


def test_signature_content_method_replaces_the_default_content():
    group = Group(pk=3, name="x")
    group.signature_content = lambda: {"what": "only this"}
    expected = hashlib.sha256(
        b'{"content":{"what":"only this"},"id":"3","type":"auth.group"}'
    ).hexdigest()
    assert record_content_hash(group) == expected
