"""Facts genealogy announces (sent on commit). Higher apps subscribe in their receivers.py.

Every signal is sent with `sender=Lot` and keyword arguments named below."""

from django.dispatch import Signal

lot_received = Signal()  # lot_id
lot_produced = Signal()  # lot_id, source_kind, source_ref
lot_consumed = Signal()  # lot_id, event_id, into_id (or None), context_kind, context_ref
lot_split = Signal()  # lot_id, sublot_ids
lots_merged = Signal()  # lot_id (the target), source_ids
lot_transferred = Signal()  # lot_id, location
lot_shipped = Signal()  # lot_ids, customer, shipment_ref
lot_adjusted = Signal()  # lot_id, event_id
lot_returned = Signal()  # lot_id, event_id, consumption_id
lot_status_changed = Signal()  # lot_id, old_status, new_status
