"""Facts the recipes app announces (sent on commit). Higher apps (batches) subscribe in their
receivers.py: e.g. a batch not yet started whose version was superseded must be re-pointed."""

from django.dispatch import Signal

# version_id, superseded_version_id (or None)
recipe_version_approved = Signal()
# version_id, superseded_by_id
recipe_version_superseded = Signal()
# version_id
recipe_version_obsoleted = Signal()
