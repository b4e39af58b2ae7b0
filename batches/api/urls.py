"""API of batches, mounted at /api/v1/batches/."""

urlpatterns: list = []
