"""The run form: the period and the step-1 questionnaire."""

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from mes.diagnostic.derivation import QUESTIONS
from mes.registry import Period

PERIOD_CHOICES = [
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("180", "Last 180 days"),
    ("365", "Last 365 days"),
    ("custom", "From … to …"),
]


class AssessmentRunForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, initial="90", label="Period")
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, (question, options) in QUESTIONS.items():
            self.fields[key] = forms.ChoiceField(
                label=question,
                required=False,
                choices=[("", "Not answered")] + [(v, label) for v, (label, _) in options.items()],
                widget=forms.RadioSelect,
                initial="",
            )

    def question_fields(self) -> list[Any]:
        return [self[key] for key in QUESTIONS]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("period") == "custom" and not (data.get("start") and data.get("end")):
            raise forms.ValidationError("Give both dates of the period.")
        return data

    def period_value(self) -> Period:
        data = self.cleaned_data
        if data["period"] == "custom":
            zone = timezone.get_current_timezone()
            start = datetime.combine(data["start"], time.min, tzinfo=zone)
            end = datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone)
            return Period(
                start=start, end=min(end, timezone.now()) if end > timezone.now() else end
            )
        end = timezone.now()
        return Period(start=end - timedelta(days=int(data["period"])), end=end)

    def answers(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(key) or "" for key in QUESTIONS}
