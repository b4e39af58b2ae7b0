"""The calls workorders makes into quality (NCR, SPC), in one place. Quality is a lower layer;
if a function is missing (or the actor may not use it) the adapter says so in the log and the
work-order action still stands: the NCR or SPC value is an extra record, not the gate."""

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

logger = logging.getLogger(__name__)


def nonconformance_report(
    *,
    actor: Any,
    description: str,
    quantity: Decimal,
    uom: str,
    defect_code: str,
    source: Mapping[str, str],
    lot: Any = None,
) -> Any:
    """Open an NCR in quality for scrapped or reworked material (inside the caller's
    transaction). Returns the NCR, or None when the actor may not report one."""
    from quality import services as quality

    if not (getattr(actor, "is_system", False) or actor.has_perm("quality.add_nonconformance")):
        logger.info("no NCR for %s: %s lacks quality.add_nonconformance", source, actor)
        return None
    return quality.nonconformance_open(
        actor=actor,
        description=description,
        lot=lot,
        quantity=quantity,
        uom=uom,
        defect_code=defect_code[:40],
        source=dict(source),
    )


def spc_record(*, actor: Any, key: str, value: Decimal, source_ref: str, source_url: str) -> Any:
    """Feed a measured inspection value to SPC in quality (if the characteristic exists)."""
    from quality import services as quality
    from quality.models import Characteristic

    if not Characteristic.objects.filter(key=key, is_active=True).exists():
        logger.info("no SPC characteristic %s: value %s not charted", key, value)
        return None
    return quality.spc_record_value(
        actor=actor,
        characteristic_key=key,
        value=value,
        source_ref=source_ref[:200],
        source_url=source_url[:500],
    )
