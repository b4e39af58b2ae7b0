"""Pages of genealogy, mounted at /genealogy/."""

from django.urls import path

from genealogy import views

app_name = "genealogy"
urlpatterns = [
    path("", views.lot_search, name="lot_search"),
    path("lots/<int:pk>/", views.lot_detail, name="lot_detail"),
    path("lots/<int:pk>/graph/", views.lot_graph, name="lot_graph"),
    path("recall/", views.recall, name="recall"),
    path("recall/jobs/", views.recall_job_start, name="recall_job_start"),
    path("recall/jobs/<int:pk>/", views.recall_job_detail, name="recall_job_detail"),
    path("recall/jobs/<int:pk>/<str:kind>/", views.recall_job_download, name="recall_job_download"),
]
