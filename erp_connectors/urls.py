"""Pages of erp_connectors, mounted at /erp-connectors/."""

app_name = "erp_connectors"
urlpatterns: list = []
