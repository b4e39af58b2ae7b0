"""API of recipes, mounted at /api/v1/recipes/."""

from rest_framework.routers import SimpleRouter

from recipes.api import views

router = SimpleRouter()
router.register("master-recipes", views.MasterRecipeViewSet, basename="recipes-master-recipe")
router.register("versions", views.RecipeVersionViewSet, basename="recipes-version")

urlpatterns = router.urls
