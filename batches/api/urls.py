"""API of batches, mounted at /api/v1/batches/."""

from rest_framework.routers import SimpleRouter

from batches.api import views

router = SimpleRouter()
router.register("orders", views.BatchOrderViewSet, basename="batches-order")
router.register("phases", views.PhaseExecutionViewSet, basename="batches-phase")

urlpatterns = router.urls
