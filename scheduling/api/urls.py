"""API of scheduling, mounted at /api/v1/scheduling/."""

urlpatterns: list = []
