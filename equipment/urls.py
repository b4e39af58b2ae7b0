"""Pages of equipment, mounted at /equipment/."""

app_name = "equipment"
urlpatterns: list = []
