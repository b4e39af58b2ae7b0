"""Pages of workorders, mounted at /workorders/."""

app_name = "workorders"
urlpatterns: list = []
