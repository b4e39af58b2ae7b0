"""Facts quality announces, sent on commit. Higher apps subscribe in their receivers.py
(workorders' mixed-mode handoff listens to `lot_released`; batches to `deviation_closed`)."""

from django.dispatch import Signal

# sender=LotDisposition; kwargs: lot_id, disposition_id, lot_number, material_code
lot_released = Signal()
# sender=LotDisposition; kwargs: lot_id, disposition_id, decision, old_status
lot_disposed = Signal()
# sender=LabResult; kwargs: result_id, lot_id, outcome, supersedes_id
lab_result_recorded = Signal()
# sender=Deviation; kwargs: deviation_id, source_kind, source_ref
deviation_opened = Signal()
deviation_closed = Signal()
# sender=Nonconformance; kwargs: ncr_id, disposition, lot_id, quantity, source_kind, source_ref
nonconformance_dispositioned = Signal()
# sender=SpcValue; kwargs: characteristic_id, key, value_id, rules (list of rule numbers)
spc_rule_violated = Signal()
