from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mes.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from mes.accounts import receivers

        receivers.connect()
