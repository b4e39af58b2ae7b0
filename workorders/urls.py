"""Pages of workorders, mounted at /workorders/."""

from django.urls import path

from workorders import views

app_name = "workorders"
urlpatterns = [
    path("", views.work_order_list, name="work_order_list"),
    path("terminal/", views.terminal, name="terminal"),
    path("operations/<int:pk>/", views.operation_panel, name="operation"),
    path("operations/<int:pk>/<slug:action>/", views.operation_action, name="operation_action"),
    path("units/<int:pk>/<slug:action>/", views.unit_action, name="unit_action"),
    path("orders/<int:pk>/", views.work_order_detail, name="work_order_detail"),
    path("orders/<int:pk>/<slug:action>/", views.work_order_action, name="work_order_action"),
    path("boms/", views.bom_list, name="bom_list"),
    path("boms/new/", views.bom_new, name="bom_new"),
    path("boms/<int:pk>/", views.bom_detail, name="bom_detail"),
    path("routings/", views.routing_list, name="routing_list"),
    path("routings/new/", views.routing_new, name="routing_new"),
    path("routings/<int:pk>/", views.routing_detail, name="routing_detail"),
    path("authoring/row/<slug:kind>/", views.authoring_row, name="authoring_row"),
    path("handoff-rules/", views.handoff_rules, name="handoff_rules"),
    path("variance/", views.variance, name="variance"),
]
