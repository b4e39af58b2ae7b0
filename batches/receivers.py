"""Handlers of other apps' signals, connected in BatchesConfig.ready().

`recipes.signals.recipe_version_superseded` (sent after the approval of the next version
commits): every batch made on the superseded version and not yet started is flagged; it cannot
start on the old version and must be re-pointed or cancelled (both signed). A failure is
logged; it never undoes the approval, which has already committed (and `batch_start` checks
the version itself, so an unflagged batch still cannot start on the old version)."""

import logging
from typing import Any

from batches import services

logger = logging.getLogger(__name__)


def on_recipe_version_superseded(
    sender: Any, version_id: int, superseded_by_id: int, **kwargs: Any
) -> None:
    try:
        flagged = services.batch_flag_version_superseded(
            version_id=version_id, superseded_by_id=superseded_by_id
        )
    except Exception:
        logger.exception("flagging the batches of superseded recipe version %s failed", version_id)
        return
    for batch in flagged:
        logger.info("batch %s: recipe version superseded; re-point or cancel", batch.number)
