from django.urls import path

from mes.esign import views

app_name = "esign"
urlpatterns = [path("", views.signature_list_view, name="signature_list")]
