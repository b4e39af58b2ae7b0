"""API of equipment, mounted at /api/v1/equipment/."""

from rest_framework.routers import SimpleRouter

from equipment.api import views

router = SimpleRouter()
router.register("sites", views.SiteViewSet, basename="equipment-site")
router.register("areas", views.AreaViewSet, basename="equipment-area")
router.register("equipment-classes", views.EquipmentClassViewSet, basename="equipment-class")
router.register("process-cells", views.ProcessCellViewSet, basename="equipment-process-cell")
router.register("work-centers", views.WorkCenterViewSet, basename="equipment-work-center")
router.register("units", views.UnitViewSet, basename="equipment-unit")
router.register("instruments", views.InstrumentViewSet, basename="equipment-instrument")
router.register("cleaning-rules", views.CleaningRuleViewSet, basename="equipment-cleaning-rule")
router.register(
    "maintenance-plans", views.MaintenancePlanViewSet, basename="equipment-maintenance-plan"
)
router.register(
    "maintenance-work-orders",
    views.MaintenanceWorkOrderViewSet,
    basename="equipment-maintenance-work-order",
)

urlpatterns = router.urls
