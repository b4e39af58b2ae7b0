"""Forms of the quality pages. They validate input only; the services decide."""

from typing import Any

from django import forms

from mes.accounts.models import User
from quality.choices import CapaKind, Classification, NcrDisposition, SamplingBasis, TestKind


class CorrectionForm(forms.Form):
    value = forms.CharField(max_length=50, label="Corrected value")
    reason = forms.CharField(
        max_length=2000, label="Reason for the correction", widget=forms.Textarea(attrs={"rows": 2})
    )


class OverrideRequestForm(forms.Form):
    deviation = forms.IntegerField(label="Deviation", widget=forms.Select)
    justification = forms.CharField(
        max_length=4000,
        label="Justification",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the lot may be released despite the failing results.",
    )

    def __init__(self, *args: Any, deviations: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["deviation"].widget.choices = [(d.pk, str(d)) for d in deviations]


class DeviationForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=10000)
    lot = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ClassifyForm(forms.Form):
    classification = forms.ChoiceField(choices=Classification.choices)
    reason = forms.CharField(max_length=1000, required=False)


class InvestigateForm(forms.Form):
    investigation = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    root_cause = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=10000, required=False
    )


class CapaForm(forms.Form):
    kind = forms.ChoiceField(choices=CapaKind.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
    owner = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, is_system=False).order_by("username")
    )
    due_at = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class CapaCompleteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, label="What was done"
    )


class NonconformanceForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10000)
    defect_code = forms.CharField(max_length=40, required=False)
    lot = forms.IntegerField(required=False, label="Lot id")
    quantity = forms.DecimalField(required=False, max_digits=18, decimal_places=6)


class NcrDispositionForm(forms.Form):
    disposition = forms.ChoiceField(choices=NcrDisposition.choices)
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
    deviation = forms.IntegerField(
        required=False, label="Deviation id (needed for use as is)", min_value=1
    )


class SpecificationForm(forms.Form):
    material = forms.IntegerField(widget=forms.Select)
    title = forms.CharField(max_length=200)
    sample_count = forms.IntegerField(min_value=1, max_value=100, initial=1)
    sampling_basis = forms.ChoiceField(choices=SamplingBasis.choices)
    tests = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One test a line: name | unit | method | low | high, or name | | method | "
        "pass/fail. Leave a limit empty for a one-sided test.",
    )

    def __init__(self, *args: Any, materials: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["material"].widget.choices = [(m.pk, str(m)) for m in materials]

    def clean_tests(self) -> list[dict[str, Any]]:
        tests = []
        for number, line in enumerate(self.cleaned_data["tests"].splitlines(), start=1):
            if not line.strip():
                continue
            cells = [c.strip() for c in line.split("|")]
            cells += [""] * (5 - len(cells))
            if len(cells) > 5:
                raise forms.ValidationError(f"Line {number}: more than five cells.")
            name, unit, method, low, high = cells
            if low.lower() in ("pass/fail", "pass_fail"):
                tests.append(
                    {"name": name, "unit": unit, "method": method, "kind": TestKind.PASS_FAIL}
                )
            else:
                tests.append(
                    {
                        "name": name,
                        "unit": unit,
                        "method": method,
                        "kind": TestKind.NUMERIC,
                        "low": low or None,
                        "high": high or None,
                    }
                )
        if not tests:
            raise forms.ValidationError("Enter at least one test.")
        return tests


class SpcDeviationForm(forms.Form):
    point = forms.IntegerField(min_value=0)
    rules = forms.CharField(max_length=20, required=False)

    def clean_rules(self) -> list[int]:
        raw = self.cleaned_data["rules"]
        try:
            return [int(r) for r in raw.split(",") if r.strip()]
        except ValueError as exc:
            raise forms.ValidationError("Rules are numbers separated by commas.") from exc
