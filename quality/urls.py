"""Pages of quality, mounted at /quality/."""

from django.urls import path

from quality import views

app_name = "quality"
urlpatterns = [
    path("", views.review_queue, name="review_queue"),
    path("lots/<int:pk>/", views.lot_detail, name="lot_detail"),
    path("lots/<int:pk>/results/", views.lot_results_enter, name="lot_results_enter"),
    path("lots/<int:pk>/override/", views.lot_override_request, name="lot_override_request"),
    path("lots/<int:pk>/<str:decision>/", views.lot_dispose, name="lot_dispose"),
    path("results/<int:pk>/correct/", views.result_correct, name="result_correct"),
    path("overrides/<int:pk>/sign/", views.override_sign, name="override_sign"),
    path("deviations/", views.deviation_list, name="deviation_list"),
    path("deviations/new/", views.deviation_new, name="deviation_new"),
    path("deviations/<int:pk>/", views.deviation_detail, name="deviation_detail"),
    path("deviations/<int:pk>/classify/", views.deviation_classify, name="deviation_classify"),
    path(
        "deviations/<int:pk>/investigate/",
        views.deviation_investigate,
        name="deviation_investigate",
    ),
    path("deviations/<int:pk>/capa/", views.deviation_add_capa, name="deviation_add_capa"),
    path("deviations/<int:pk>/close/", views.deviation_close, name="deviation_close"),
    path("capa/<int:pk>/complete/", views.capa_complete, name="capa_complete"),
    path("ncrs/", views.ncr_list, name="ncr_list"),
    path("ncrs/new/", views.ncr_new, name="ncr_new"),
    path("ncrs/<int:pk>/", views.ncr_detail, name="ncr_detail"),
    path("ncrs/<int:pk>/disposition/", views.ncr_disposition, name="ncr_disposition"),
    path("specifications/", views.specification_list, name="specification_list"),
    path("specifications/new/", views.specification_new, name="specification_new"),
    path("specifications/<int:pk>/", views.specification_detail, name="specification_detail"),
    path(
        "specifications/<int:pk>/approve/",
        views.specification_approve,
        name="specification_approve",
    ),
    path(
        "specifications/<int:pk>/new-version/",
        views.specification_new_version,
        name="specification_new_version",
    ),
    path("spc/", views.spc_list, name="spc_list"),
    path("spc/<slug:key>/", views.spc_chart, name="spc_chart"),
    path("spc/<slug:key>/deviation/", views.spc_open_deviation, name="spc_open_deviation"),
]
