"""API of genealogy, mounted at /api/v1/genealogy/."""

urlpatterns: list = []
