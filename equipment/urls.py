"""Pages of equipment, mounted at /equipment/."""

from django.urls import path

from equipment import views

app_name = "equipment"
urlpatterns = [
    path("", views.plant, name="plant"),
    path("units/<int:pk>/", views.unit_detail, name="unit_detail"),
    path("units/<int:pk>/clean/", views.unit_record_cleaning, name="unit_record_cleaning"),
    path("units/<int:pk>/verify/", views.unit_verify_cleaning, name="unit_verify_cleaning"),
    path("units/<int:pk>/status/", views.unit_change_status, name="unit_change_status"),
    path("units/<int:pk>/logbook.pdf", views.unit_logbook, name="unit_logbook"),
    path("instruments/", views.instrument_list, name="instrument_list"),
    path("instruments/<int:pk>/", views.instrument_detail, name="instrument_detail"),
    path("maintenance/", views.maintenance_list, name="maintenance_list"),
    path("maintenance/<int:pk>/start/", views.maintenance_start, name="maintenance_start"),
    path("maintenance/<int:pk>/complete/", views.maintenance_complete, name="maintenance_complete"),
    path("maintenance/<int:pk>/cancel/", views.maintenance_cancel, name="maintenance_cancel"),
]
