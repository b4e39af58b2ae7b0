"""API of scheduling, mounted at /api/v1/scheduling/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from scheduling.api import views

router = SimpleRouter()
router.register("schedules", views.ScheduleViewSet, basename="scheduling-schedule")
router.register("entries", views.ScheduleEntryViewSet, basename="scheduling-entry")

urlpatterns = [
    path("dispatch/", views.DispatchListView.as_view(), name="scheduling-dispatch"),
    *router.urls,
]
