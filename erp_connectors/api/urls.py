"""API of erp_connectors, mounted at /api/v1/erp-connectors/."""

urlpatterns: list = []
