from django.apps import AppConfig


class EsignConfig(AppConfig):
    name = "mes.esign"
    label = "esign"
    verbose_name = "Electronic signatures"
