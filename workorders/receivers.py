"""Handlers of other apps' signals, connected in WorkordersConfig.ready().

`quality.signals.lot_released` (sent after the release commits): every active handoff rule for
the lot's material creates and releases its work order, under the `system` principal. A
refusal (no BOM using the material, lot too small, ...) is logged; it never undoes QA's
release, which has already committed."""

import logging
from typing import Any

from django.contrib.auth import get_user_model

from genealogy.models import Lot
from workorders import services
from workorders.models import HandoffRule

logger = logging.getLogger(__name__)
SYSTEM_USERNAME = "system"


def on_lot_released(sender: Any, lot_id: int, **kwargs: Any) -> None:
    lot = Lot.objects.filter(pk=lot_id).first()
    if lot is None:
        return
    rules = list(HandoffRule.objects.filter(material_id=lot.material_id, is_active=True))
    if not rules:
        return
    system = get_user_model().objects.get(username=SYSTEM_USERNAME)
    for rule in rules:
        try:
            wo = services.handoff_lot_released(actor=system, rule=rule, lot=lot)
        except Exception:
            logger.exception("handoff of lot %s under rule %s refused", lot.lot_number, rule.pk)
            continue
        if wo is not None:
            logger.info("handoff: lot %s → %s", lot.lot_number, wo.number)
