"""Forms of the recipe pages. They check the shape of the input; the services decide (and their
refusals are shown next to the field they name). The inline rows of the version editor post
their fields straight to the services, whose cleaners answer with the field at fault."""

from django import forms

from genealogy.choices import UnitOfMeasure
from genealogy.models import Material


class RecipeCreateForm(forms.Form):
    code = forms.CharField(max_length=40, help_text="e.g. RESIN-PA (no spaces)")
    name = forms.CharField(max_length=200)
    product = forms.ModelChoiceField(
        queryset=Material.objects.filter(is_active=True).order_by("code"),
        to_field_name="code",
        help_text="The material this recipe makes.",
    )
    batch_size_min = forms.DecimalField(max_digits=18, decimal_places=6, label="Smallest batch")
    batch_size_max = forms.DecimalField(max_digits=18, decimal_places=6, label="Largest batch")
    batch_size_reference = forms.DecimalField(
        max_digits=18,
        decimal_places=6,
        label="Reference batch",
        help_text="Input and output quantities are entered for this batch size.",
    )
    batch_size_uom = forms.ChoiceField(
        choices=[("", "the product's unit"), *UnitOfMeasure.choices], required=False, label="Unit"
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)


class DiffForm(forms.Form):
    a = forms.IntegerField(min_value=1)
    b = forms.IntegerField(min_value=1)
