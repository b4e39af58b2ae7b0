"""Pages of scheduling, mounted at /scheduling/."""

from django.urls import path

from scheduling import views

app_name = "scheduling"
urlpatterns = [
    path("", views.schedule_list, name="schedule_list"),
    path("new/", views.schedule_create, name="schedule_create"),
    path("<int:pk>/", views.schedule_detail, name="schedule_detail"),
    path("<int:pk>/progress/", views.schedule_progress, name="schedule_progress"),
    path("<int:pk>/solve/", views.schedule_solve, name="schedule_solve"),
    path("<int:pk>/stop/", views.schedule_stop, name="schedule_stop"),
    path("<int:pk>/publish/", views.schedule_publish, name="schedule_publish"),
    path("<int:pk>/compare/", views.schedule_compare, name="schedule_compare"),
    path("<int:pk>/move/", views.entry_move, name="entry_move"),
    path("<int:pk>/entries/<int:entry_pk>/lock/", views.entry_lock, name="entry_lock"),
    path("master-data/", views.master_data, name="master_data"),
    path("dispatch/", views.dispatch_index, name="dispatch_index"),
    path("dispatch/work-centers/<int:pk>/", views.dispatch_work_center, name="dispatch_wc"),
    path("dispatch/units/<int:pk>/", views.dispatch_unit, name="dispatch_unit"),
]
