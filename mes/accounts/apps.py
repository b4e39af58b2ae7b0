"""People, roles, API tokens, login policy."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "mes.accounts"
    label = "accounts"
    verbose_name = "People and roles"

    def ready(self) -> None:
        from mes.accounts import receivers
        from mes.accounts.roles import ALL_ROLES
        from mes.registry import Tile, register_tile

        receivers.connect()
        register_tile(
            Tile(
                key="accounts.password_change",
                title="Change password",
                url_name="password_change",
                roles=ALL_ROLES,
                description="Your password signs your records: keep it to yourself",
                order=990,
            )
        )
