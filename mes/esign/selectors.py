"""Reading signatures, with their validity recomputed from the records they sign."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from mes.accounts.roles import Role
from mes.esign.hashing import HASH_ALG, record_content_hash
from mes.esign.models import Meaning, Signature

# Who may see the signatures screen and API (besides holders of esign.view_signature).
SIGNATURE_VIEWER_ROLES = frozenset(
    {Role.QA_REVIEWER.value, Role.SUPERVISOR.value, Role.ADMINISTRATOR.value}
)


def format_signed_at(value: datetime) -> str:
    """'2026-11-24 17:05:03 UTC+00:00': date and time in the plant's zone, with the offset."""
    local = timezone.localtime(value)
    offset = local.utcoffset()
    seconds = int(offset.total_seconds()) if offset is not None else 0
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{local:%Y-%m-%d %H:%M:%S} UTC{sign}{hours:02d}:{minutes:02d}"


def signature_manifestation(signature: Signature) -> str:
    """'Printed Name — Meaning — 2026-11-24 17:05:03 UTC+00:00' (21 CFR 11.50(a))."""
    return (
        f"{signature.printed_name} — {Meaning(signature.meaning).label} — "
        f"{format_signed_at(signature.signed_at)}"
    )


def _current_hashes(signatures: Iterable[Signature]) -> dict[tuple[int, str], str | None]:
    """The present content hash of every record the signatures point to (None: record gone),
    one query per record type."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for sig in signatures:
        wanted[sig.content_type_id].add(sig.object_id)
    hashes: dict[tuple[int, str], str | None] = {}
    for content_type_id, object_ids in wanted.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        found: dict[str, models.Model] = {}
        if model is not None:
            pk_field = model._meta.pk
            keys = []
            for object_id in object_ids:
                try:
                    keys.append(pk_field.to_python(object_id))
                except (ValidationError, ValueError, TypeError):
                    continue  # a malformed id matches no record
            for obj in model._base_manager.filter(pk__in=keys):
                found[str(obj.pk)] = obj
        for object_id in object_ids:
            obj = found.get(object_id)
            hashes[(content_type_id, object_id)] = (
                record_content_hash(obj) if obj is not None else None
            )
    return hashes


def signatures_with_validity(signatures: Iterable[Signature]) -> list[Signature]:
    """Each signature with `.is_valid`, `.invalid_reason`, `.signed_at_display` and
    `.manifestation` set."""
    signatures = list(signatures)
    hashes = _current_hashes(signatures)
    for sig in signatures:
        current = hashes.get((sig.content_type_id, sig.object_id))
        if sig.hash_alg != HASH_ALG:
            sig.is_valid, sig.invalid_reason = False, f"unknown hash algorithm {sig.hash_alg}"
        elif current is None:
            sig.is_valid, sig.invalid_reason = False, "the signed record no longer exists"
        elif current != sig.record_hash:
            sig.is_valid, sig.invalid_reason = (
                False,
                "the record changed after signing (or the signature is not this record's)",
            )
        else:
            sig.is_valid, sig.invalid_reason = True, ""
        sig.signed_at_display = format_signed_at(sig.signed_at)
        sig.manifestation = signature_manifestation(sig)
    return signatures


def signature_is_valid(signature: Signature) -> bool:
    """True when the signed record still exists and its content hash is the signed one."""
    return signatures_with_validity([signature])[0].is_valid


def signatures_for_record(record: models.Model) -> list[Signature]:
    """The signatures of one record, oldest first, validity computed."""
    content_type = ContentType.objects.get_for_model(record._meta.concrete_model)
    qs = Signature.objects.filter(content_type=content_type, object_id=str(record.pk))
    return signatures_with_validity(qs.select_related("content_type").order_by("signed_at", "id"))


def can_view_signatures(user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return (
        user.is_superuser
        or user.has_perm("esign.view_signature")
        or bool(SIGNATURE_VIEWER_ROLES & user.role_names)
    )


def signature_list(
    *,
    actor: Any,
    signer: str | None = None,
    meaning: str | None = None,
    record_type: str | None = None,
) -> QuerySet[Signature]:
    """Signatures the actor may see, newest first; filters: signer user ID (exact, case
    insensitive), meaning, record type ("app_label.model")."""
    if not can_view_signatures(actor):
        return Signature.objects.none()
    qs = Signature.objects.select_related("content_type").order_by("-signed_at", "-id")
    if signer:
        qs = qs.filter(username__iexact=signer)
    if meaning:
        qs = qs.filter(meaning=meaning)
    if record_type:
        app_label, _, model = record_type.lower().partition(".")
        qs = qs.filter(content_type__app_label=app_label, content_type__model=model)
    return qs


def signed_record_types() -> list[tuple[str, str]]:
    """(value "app_label.model", label) of every record type that carries a signature."""
    ids = Signature.objects.values_list("content_type_id", flat=True).distinct()
    types = []
    for content_type in ContentType.objects.filter(pk__in=ids).order_by("app_label", "model"):
        types.append(
            (f"{content_type.app_label}.{content_type.model}", content_type.name.capitalize())
        )
    return types


def signatures_verify() -> tuple[int, list[str]]:
    """Re-verify every signature: (signatures checked, one problem string per invalid one)."""
    problems: list[str] = []
    checked = 0
    batch: list[Signature] = []
    for sig in (
        Signature.objects.select_related("content_type").order_by("id").iterator(chunk_size=1000)
    ):
        batch.append(sig)
        if len(batch) >= 1000:
            problems += _problems(batch)
            checked += len(batch)
            batch = []
    if batch:
        problems += _problems(batch)
        checked += len(batch)
    return checked, problems


def verify_all_signatures() -> list[str]:
    """The problem strings of `signatures_verify()` (empty: every signature is valid)."""
    return signatures_verify()[1]


def _problems(batch: list[Signature]) -> list[str]:
    return [
        f"signature #{sig.pk} ({sig.printed_name}, {sig.meaning}, {format_signed_at(sig.signed_at)}) "
        f"on {sig.content_type.app_label}.{sig.content_type.model}:{sig.object_id}: "
        f"{sig.invalid_reason}"
        for sig in signatures_with_validity(batch)
        if not sig.is_valid
    ]
