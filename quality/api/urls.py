"""API of quality, mounted at /api/v1/quality/."""

urlpatterns: list = []
