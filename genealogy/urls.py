"""Pages of genealogy, mounted at /genealogy/."""

app_name = "genealogy"
urlpatterns: list = []
