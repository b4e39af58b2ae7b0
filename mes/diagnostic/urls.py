"""Pages of the self-audit, mounted at /diagnostic/."""

from django.urls import path

from mes.diagnostic import views

app_name = "diagnostic"

urlpatterns = [
    path("", views.assessment_list, name="assessment_list"),
    path("run/", views.assessment_run, name="assessment_run"),
    path("<int:pk>/", views.assessment_detail, name="assessment_detail"),
    path("<int:pk>/sign/", views.assessment_sign, name="assessment_sign"),
    path("<int:pk>/report.pdf", views.assessment_pdf_view, name="assessment_pdf"),
]
