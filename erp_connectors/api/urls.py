"""API of erp_connectors, mounted at /api/v1/erp-connectors/."""

from rest_framework.routers import SimpleRouter

from erp_connectors.api import views

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="erp-order")
router.register("outbox", views.OutboxViewSet, basename="erp-outbox")
router.register("findings", views.FindingViewSet, basename="erp-finding")
router.register("b2mml", views.B2mmlViewSet, basename="erp-b2mml")

urlpatterns = router.urls
