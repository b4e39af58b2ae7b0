"""API of the self-audit, mounted at /api/v1/diagnostic/."""

from rest_framework.routers import SimpleRouter

from mes.diagnostic.api import views

router = SimpleRouter()
router.register("assessments", views.AssessmentViewSet, basename="diagnostic-assessment")

urlpatterns = router.urls
