"""Input forms of the equipment pages. They validate input only; services decide."""

from django import forms

from equipment.choices import CleaningType, EquipmentStatus, MaintenanceKind

RESULT_CHOICES = [("", "from the readings"), ("pass", "Pass"), ("fail", "Fail")]


class CleaningForm(forms.Form):
    cleaning_type = forms.ChoiceField(choices=CleaningType.choices)
    note = forms.CharField(required=False, max_length=500)


class VerifyCleaningForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


class UnitStatusForm(forms.Form):
    to_status = forms.ChoiceField(
        choices=[
            (EquipmentStatus.OUT_OF_SERVICE.value, EquipmentStatus.OUT_OF_SERVICE.label),
            (EquipmentStatus.AVAILABLE.value, EquipmentStatus.AVAILABLE.label),
        ]
    )
    reason = forms.CharField(max_length=500)


class UsabilityForm(forms.Form):
    product_code = forms.CharField(required=False, max_length=64)


class CalibrationForm(forms.Form):
    reference_value = forms.DecimalField(required=False, max_digits=14, decimal_places=4)
    as_found_value = forms.DecimalField(required=False, max_digits=14, decimal_places=4)
    as_left_value = forms.DecimalField(required=False, max_digits=14, decimal_places=4)
    as_found_result = forms.ChoiceField(choices=RESULT_CHOICES, required=False)
    as_left_result = forms.ChoiceField(choices=RESULT_CHOICES, required=False)
    certificate_ref = forms.CharField(required=False, max_length=100)
    note = forms.CharField(required=False, max_length=500)

    @staticmethod
    def as_bool(value: str) -> bool | None:
        return {"pass": True, "fail": False}.get(value)


class MaintenanceCompleteForm(forms.Form):
    note = forms.CharField(required=False, max_length=1000)


class MaintenanceCancelForm(forms.Form):
    reason = forms.CharField(max_length=500)


class MaintenanceCreateForm(forms.Form):
    unit = forms.IntegerField()
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=2000)
    kind = forms.ChoiceField(choices=MaintenanceKind.choices, initial=MaintenanceKind.CORRECTIVE)
