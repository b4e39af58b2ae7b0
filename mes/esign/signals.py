"""Facts the e-signature kernel announces (sent on commit)."""

from django.dispatch import Signal

# kwargs: signature_id, record_type ("app_label.model"), object_id (str), meaning
record_signed = Signal()
