"""API of equipment, mounted at /api/v1/equipment/."""

urlpatterns: list = []
