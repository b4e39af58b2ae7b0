"""Pages of quality, mounted at /quality/."""

app_name = "quality"
urlpatterns: list = []
