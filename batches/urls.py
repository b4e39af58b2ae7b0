"""Pages of batches, mounted at /batches/."""

app_name = "batches"
urlpatterns: list = []
