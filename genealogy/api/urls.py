"""API of genealogy, mounted at /api/v1/genealogy/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from genealogy.api import views

router = SimpleRouter()
router.register("materials", views.MaterialViewSet, basename="genealogy-material")
router.register("lots", views.LotViewSet, basename="genealogy-lot")
router.register("recall-jobs", views.RecallJobViewSet, basename="genealogy-recall-job")

urlpatterns = [
    path("recall-scope/", views.RecallScopeView.as_view(), name="genealogy-recall-scope"),
    *router.urls,
]
