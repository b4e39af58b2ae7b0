from django.urls import path

from mes.analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("<str:key>.csv", views.metric_csv, name="metric_csv"),
]
