from django.contrib.auth import views as auth_views
from django.urls import path

from mes.accounts import views

urlpatterns = [
    path("login/", views.MesLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", views.MesPasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]
