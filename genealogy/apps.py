from django.apps import AppConfig


class GenealogyConfig(AppConfig):
    name = "genealogy"
    verbose_name = "Lot genealogy"
