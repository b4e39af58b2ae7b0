"""Input forms of the batch pages (the services decide; forms only parse)."""

from django import forms

from batches.choices import MaterialReturnKind


class BatchCreateForm(forms.Form):
    recipe_version = forms.IntegerField(label="Recipe version id", min_value=1)
    batch_size = forms.DecimalField(label="Batch size", max_digits=18, decimal_places=6)
    number = forms.CharField(label="Batch number (optional)", max_length=40, required=False)


class BatchStartForm(forms.Form):
    unit = forms.CharField(label="Unit (scan)", max_length=30)


class ValueForm(forms.Form):
    name = forms.CharField(max_length=120)
    value = forms.CharField(max_length=200)
    instrument = forms.CharField(max_length=30, required=False)


class CorrectionForm(forms.Form):
    value_id = forms.IntegerField(min_value=1)
    value = forms.CharField(max_length=200)
    reason = forms.CharField(max_length=1000)


class DispenseForm(forms.Form):
    lot = forms.CharField(label="Lot (scan)", max_length=64)
    material = forms.IntegerField(min_value=1)
    quantity = forms.DecimalField(max_digits=18, decimal_places=6)


class ReturnForm(forms.Form):
    use = forms.IntegerField(min_value=1)
    kind = forms.ChoiceField(choices=MaterialReturnKind.choices)
    quantity = forms.DecimalField(max_digits=18, decimal_places=6)
    reason = forms.CharField(max_length=2000)


class YieldForm(forms.Form):
    quantity = forms.DecimalField(max_digits=18, decimal_places=6)
    lot_number = forms.CharField(max_length=64, required=False)
