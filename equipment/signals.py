"""Facts the equipment app announces (sent on commit). Higher apps subscribe in their
receivers.py: quality may open a deviation when an instrument was found out of tolerance,
scheduling may re-plan when a unit goes out of service."""

from django.dispatch import Signal

# unit_id, from_status, to_status, reason
unit_status_changed = Signal()
# unit_id, log_entry_id, cleaning_type
unit_cleaned = Signal()
# instrument_id, calibration_id, as_found_passed, as_left_passed
instrument_calibrated = Signal()
# work_order_id, unit_id, plan_id
maintenance_work_order_created = Signal()
