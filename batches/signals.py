"""Facts batches announce (sent on commit)."""

from django.dispatch import Signal

batch_created = Signal()  # batch_id
batch_started = Signal()  # batch_id
phase_completed = Signal()  # batch_id, phase_id
batch_completed = Signal()  # batch_id
batch_released = Signal()  # batch_id
