from rest_framework.routers import SimpleRouter

from mes.esign.api.views import SignatureViewSet

router = SimpleRouter()
router.register("signatures", SignatureViewSet, basename="signature")
urlpatterns = router.urls
