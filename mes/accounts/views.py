"""Login, password change. Logout is Django's (POST only)."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from mes.accounts.forms import MesAuthenticationForm, MesPasswordChangeForm
from mes.accounts.middleware import SESSION_NOTICE
from mes.accounts.services import user_change_password
from mes.exceptions import DomainError


class MesLoginView(auth_views.LoginView):
    authentication_form = MesAuthenticationForm
    redirect_authenticated_user = False

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
        notice = request.session.pop(SESSION_NOTICE, None)
        if notice:
            messages.warning(request, notice)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):  # type: ignore[no-untyped-def]
        context = super().get_context_data(**kwargs)
        context["lockout_failures"] = settings.AXES_FAILURE_LIMIT
        context["lockout_minutes"] = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return context

    def form_valid(self, form: MesAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        self.request.mes_terminal_login = form.cleaned_data.get("terminal", False)  # type: ignore[attr-defined]
        return super().form_valid(form)


class MesPasswordChangeView(auth_views.PasswordChangeView):
    form_class = MesPasswordChangeForm
    success_url = reverse_lazy("password_change_done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["password_max_age_days"] = settings.MES_PASSWORD_MAX_AGE_DAYS
        context["password_history"] = settings.MES_PASSWORD_HISTORY
        return context

    def form_valid(self, form: MesPasswordChangeForm) -> HttpResponse:  # type: ignore[override]
        try:
            user = user_change_password(
                actor=self.request.user,
                user=self.request.user,
                new_password=form.cleaned_data["new_password1"],
                request=self.request,
            )
        except DomainError as exc:
            form.add_error(None, exc.detail)
            return self.form_invalid(form)
        update_session_auth_hash(self.request, user)
        messages.success(self.request, "Your password was changed.")
        return HttpResponseRedirect(self.get_success_url())
