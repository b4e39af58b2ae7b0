"""Input forms of the planner's pages. They validate input only; services decide."""

from django import forms

DATETIME_LOCAL = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ScheduleCreateForm(forms.Form):
    note = forms.CharField(required=False, max_length=200)
    tardiness_weight = forms.IntegerField(min_value=0, max_value=1000, initial=10)
    makespan_weight = forms.IntegerField(min_value=0, max_value=1000, initial=1)
    changeover_weight = forms.IntegerField(min_value=0, max_value=1000, initial=1)
    time_limit_seconds = forms.IntegerField(min_value=1, max_value=600, initial=10)
    horizon_hours = forms.IntegerField(min_value=1, max_value=2160, initial=168)


class ScheduleSolveForm(forms.Form):
    tardiness_weight = forms.IntegerField(min_value=0, max_value=1000)
    makespan_weight = forms.IntegerField(min_value=0, max_value=1000)
    changeover_weight = forms.IntegerField(min_value=0, max_value=1000)
    time_limit_seconds = forms.IntegerField(min_value=1, max_value=600)


class EntryMoveForm(forms.Form):
    entry = forms.IntegerField()
    start = forms.DateTimeField(
        input_formats=DATETIME_LOCAL, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    resource = forms.CharField(required=False, help_text="wc:ID or unit:ID; blank: keep it.")

    def clean_resource(self) -> str:
        value = self.cleaned_data["resource"].strip()
        if value and not (
            value.partition(":")[0] in ("wc", "unit") and value.partition(":")[2].isdigit()
        ):
            raise forms.ValidationError("Choose a work center or a vessel.")
        return value


class ChangeoverRuleForm(forms.Form):
    matrix = forms.IntegerField()
    from_product = forms.CharField(max_length=64)
    to_product = forms.CharField(max_length=64)
    kind = forms.ChoiceField(choices=[("major", "Major clean"), ("minor", "Minor clean")])
    clean_minutes = forms.IntegerField(required=False, min_value=0)
    is_forbidden = forms.BooleanField(required=False)


class DemandPriorityForm(forms.Form):
    order = forms.CharField(max_length=40, help_text="Batch or work-order number.")
    due_at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_LOCAL,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    priority = forms.IntegerField(min_value=1, max_value=10, initial=1)
    duration_minutes = forms.IntegerField(required=False, min_value=1)
