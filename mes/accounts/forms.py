"""Login and password-change forms."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError


class MesAuthenticationForm(AuthenticationForm):
    terminal = forms.BooleanField(
        required=False,
        label="Shop-floor terminal",
        help_text="Shared terminal on the shop floor: the session ends sooner when idle.",
    )

    def confirm_login_allowed(self, user) -> None:  # type: ignore[no-untyped-def]
        super().confirm_login_allowed(user)
        if user.is_system:
            raise ValidationError(
                "This is a system principal; it cannot log in.", code="system_principal"
            )


class MesPasswordChangeForm(PasswordChangeForm):
    """Django's form (old password, new password twice, validators); the view saves it
    through the `user_change_password` service, never `form.save()`."""

    def save(self, commit: bool = True):  # type: ignore[no-untyped-def]
        raise NotImplementedError("use mes.accounts.services.user_change_password")
