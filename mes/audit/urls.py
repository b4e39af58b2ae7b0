from django.urls import path

from mes.audit import views

app_name = "audit"
urlpatterns = [
    path("", views.event_list, name="event_list"),
    path("export.csv", views.event_export, name="event_export"),
    path("record/<str:table>/<str:pk>/", views.record_trail, name="record_trail"),
]
