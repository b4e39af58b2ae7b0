"""Pages of scheduling, mounted at /scheduling/."""

app_name = "scheduling"
urlpatterns: list = []
