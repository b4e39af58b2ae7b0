"""Where a scanned lot label (lot number or serial number) leads: the lot's page."""

from typing import Any

from django.urls import reverse

from genealogy.models import Lot


def resolve_lot_code(code: str, user: Any) -> str | None:
    code = (code or "").strip()
    if not code or not user.has_perm("genealogy.view_lot"):
        return None
    found = list(Lot.objects.filter(lot_number=code).values_list("pk", flat=True)[:2])
    if len(found) != 1:
        return None
    return reverse("genealogy:lot_detail", args=[found[0]])
