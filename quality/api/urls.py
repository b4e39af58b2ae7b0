"""API of quality, mounted at /api/v1/quality/."""

from rest_framework.routers import SimpleRouter

from quality.api import views

router = SimpleRouter()
router.register("specifications", views.SpecificationViewSet, basename="quality-specification")
router.register("lab-results", views.LabResultViewSet, basename="quality-lab-result")
router.register("lots", views.LotViewSet, basename="quality-lot")
router.register("dispositions", views.LotDispositionViewSet, basename="quality-disposition")
router.register("overrides", views.ReleaseOverrideViewSet, basename="quality-override")
router.register("deviations", views.DeviationViewSet, basename="quality-deviation")
router.register("capa-actions", views.CapaActionViewSet, basename="quality-capa-action")
router.register("nonconformances", views.NonconformanceViewSet, basename="quality-nonconformance")
router.register("characteristics", views.CharacteristicViewSet, basename="quality-characteristic")

urlpatterns = router.urls
