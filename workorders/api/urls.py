"""API of workorders, mounted at /api/v1/workorders/."""

urlpatterns: list = []
