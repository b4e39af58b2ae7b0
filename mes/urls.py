from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from mes import views

PLANT_APPS = [
    "genealogy",
    "equipment",
    "quality",
    "recipes",
    "workorders",
    "batches",
    "scheduling",
    "erp_connectors",
]

api_v1 = [
    path("mes/", include("mes.api.urls")),
    path("analytics/", include("mes.analytics.api")),
    path("diagnostic/", include("mes.diagnostic.api.urls")),
] + [path(f"{app.replace('_', '-')}/", include(f"{app}.api.urls")) for app in PLANT_APPS]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("scan/", views.scan, name="scan"),
    path("", include("mes.accounts.urls")),
    path("audit/", include("mes.audit.urls")),
    path("signatures/", include("mes.esign.urls")),
    path("diagnostic/", include("mes.diagnostic.urls")),
    path("analytics/", include("mes.analytics.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
] + [path(f"{app.replace('_', '-')}/", include(f"{app}.urls")) for app in PLANT_APPS]

handler500 = "mes.views.server_error"
