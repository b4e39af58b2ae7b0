"""Pages of recipes, mounted at /recipes/."""

app_name = "recipes"
urlpatterns: list = []
