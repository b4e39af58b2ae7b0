from django.apps import AppConfig


class DiagnosticConfig(AppConfig):
    name = "mes.diagnostic"
    label = "diagnostic"
    verbose_name = "Production-model diagnostic and self-audit"
