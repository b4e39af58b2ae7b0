"""Pages of erp_connectors, mounted at /erp-connectors/."""

from django.urls import path

from erp_connectors import views

app_name = "erp_connectors"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("messages/<int:pk>/retry/", views.message_retry, name="message_retry"),
    path("connections/<int:pk>/", views.connection_detail, name="connection_detail"),
    path("reconcile/", views.reconcile_now, name="reconcile"),
]
