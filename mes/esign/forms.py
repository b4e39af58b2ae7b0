"""The signing form every app's page reuses: user ID, password, reason. The meaning is set
by the action and only shown (see templates/esign/_sign_form.html)."""

from typing import Any

from django import forms

from mes.esign.models import Meaning


class SignatureForm(forms.Form):
    username = forms.CharField(
        label="User ID",
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    reason = forms.CharField(
        label="Reason / comment",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, meaning: str | None = None, reason_required: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.meaning = meaning
        self.meaning_label = Meaning(meaning).label if meaning else ""
        self.fields["reason"].required = reason_required

    def signer_kwargs(self) -> dict[str, str]:
        """username/password for signer_authenticate()."""
        return {
            "username": self.cleaned_data["username"],
            "password": self.cleaned_data["password"],
        }
