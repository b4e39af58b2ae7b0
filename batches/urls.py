"""Pages of batches, mounted at /batches/."""

from django.urls import path

from batches import views

app_name = "batches"
urlpatterns = [
    path("", views.batch_list, name="batch_list"),
    path("create/", views.batch_create, name="batch_create"),
    path("<int:pk>/", views.batch_detail, name="batch_detail"),
    path("<int:pk>/start/", views.batch_start, name="batch_start"),
    path("<int:pk>/yield/", views.batch_yield, name="batch_yield"),
    path("<int:pk>/complete/", views.batch_complete, name="batch_complete"),
    path("<int:pk>/cancel/", views.batch_cancel, name="batch_cancel"),
    path("<int:pk>/release/", views.batch_release, name="batch_release"),
    path("<int:pk>/repoint/", views.batch_repoint, name="batch_repoint"),
    path("<int:pk>/batchml.xml", views.batch_batchml, name="batch_batchml"),
    path("<int:pk>/ebr.pdf", views.batch_ebr_pdf, name="batch_ebr_pdf"),
    path("<int:pk>/ebr.json", views.batch_ebr_json, name="batch_ebr_json"),
    path("<int:batch_pk>/phases/<int:pk>/", views.phase_detail, name="phase_detail"),
    path("<int:batch_pk>/phases/<int:pk>/start/", views.phase_start, name="phase_start"),
    path("<int:batch_pk>/phases/<int:pk>/value/", views.phase_value, name="phase_value"),
    path("<int:batch_pk>/phases/<int:pk>/correct/", views.phase_correct, name="phase_correct"),
    path("<int:batch_pk>/phases/<int:pk>/dispense/", views.phase_dispense, name="phase_dispense"),
    path("<int:batch_pk>/phases/<int:pk>/return/", views.phase_return, name="phase_return"),
    path("<int:batch_pk>/phases/<int:pk>/complete/", views.phase_complete, name="phase_complete"),
    path("<int:batch_pk>/phases/<int:pk>/verify/", views.phase_verify, name="phase_verify"),
]
