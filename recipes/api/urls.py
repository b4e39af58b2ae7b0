"""API of recipes, mounted at /api/v1/recipes/."""

urlpatterns: list = []
