"""Pages of recipes, mounted at /recipes/."""

from django.urls import path

from recipes import views

app_name = "recipes"
urlpatterns = [
    path("", views.recipe_list, name="recipe_list"),
    path("new/", views.recipe_create, name="recipe_create"),
    path("<int:pk>/", views.recipe_detail, name="recipe_detail"),
    path("<int:pk>/new-version/", views.recipe_new_version, name="recipe_new_version"),
    path("diff/", views.version_diff, name="version_diff"),
    path("versions/<int:pk>/", views.version_detail, name="version_detail"),
    path("versions/<int:pk>/header/", views.version_header, name="version_header"),
    path("versions/<int:pk>/problems/", views.version_problems, name="version_problems"),
    path(
        "versions/<int:pk>/unit-procedures/add/",
        views.unit_procedure_add,
        name="unit_procedure_add",
    ),
    path("versions/<int:pk>/review/", views.version_review, name="version_review"),
    path("versions/<int:pk>/<slug:action>/", views.version_sign, name="version_sign"),
    path(
        "unit-procedures/<int:pk>/<slug:action>/",
        views.unit_procedure_action,
        name="unit_procedure_action",
    ),
    path("operations/<int:pk>/<slug:action>/", views.operation_action, name="operation_action"),
    path("phases/<int:pk>/card/", views.phase_card, name="phase_card"),
    path("phases/<int:pk>/<slug:action>/", views.phase_action, name="phase_action"),
    path(
        "parameters/<int:pk>/<slug:action>/",
        views.row_action,
        {"kind": "parameter"},
        name="parameter_action",
    ),
    path(
        "inputs/<int:pk>/<slug:action>/", views.row_action, {"kind": "input"}, name="input_action"
    ),
    path(
        "outputs/<int:pk>/<slug:action>/",
        views.row_action,
        {"kind": "output"},
        name="output_action",
    ),
]
