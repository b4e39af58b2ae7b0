"""The filters of the audit-trail screen, its CSV export and its API (one definition)."""

from typing import Any

from django import forms

from mes.audit.models import AuditEvent


def audited_table_choices() -> list[tuple[str, str]]:
    from mes.audit.install import table_plans

    return [("", "any record type")] + [
        (p.table, f"{p.label} ({p.table})") for p in table_plans() if p.capture
    ]


class AuditEventFilterForm(forms.Form):
    table = forms.ChoiceField(label="Record type", required=False)
    record = forms.CharField(label="Record id", required=False, max_length=64)
    user = forms.CharField(label="User", required=False, max_length=150)
    action = forms.ChoiceField(
        label="Action",
        required=False,
        choices=[("", "any action"), *AuditEvent.Action.choices],
    )
    since = forms.DateTimeField(
        label="From",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label="Until",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["table"].choices = audited_table_choices()

    def filters(self) -> dict[str, Any]:
        """The cleaned filters, ready for `selectors.audit_event_list(**filters)`."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
