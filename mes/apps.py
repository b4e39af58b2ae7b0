from django.apps import AppConfig


class MesConfig(AppConfig):
    name = "mes"
    label = "mes"
    verbose_name = "MES platform"
