"""API of workorders, mounted at /api/v1/workorders/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from workorders.api import views

router = SimpleRouter()
router.register("boms", views.BomViewSet, basename="workorders-bom")
router.register("routings", views.RoutingViewSet, basename="workorders-routing")
router.register("work-orders", views.WorkOrderViewSet, basename="workorders-work-order")
router.register("operations", views.OperationViewSet, basename="workorders-operation")
router.register("units", views.UnitViewSet, basename="workorders-unit")
router.register("handoff-rules", views.HandoffRuleViewSet, basename="workorders-handoff-rule")

urlpatterns = [
    path("variance/", views.VarianceView.as_view(), name="workorders-variance"),
    *router.urls,
]
