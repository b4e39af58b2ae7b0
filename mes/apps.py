from django.apps import AppConfig


class MesConfig(AppConfig):
    name = "mes"
    label = "mes"
    verbose_name = "MES platform"

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib import admin

        from mes.accounts.roles import Role
        from mes.registry import Tile, register_tile

        admin.site.site_header = f"{settings.MES_SITE_NAME} administration"
        admin.site.site_title = f"{settings.MES_SITE_NAME} admin"
        admin.site.index_title = "Master data, people and rights"
        admin.site.site_url = "/"

        register_tile(
            Tile(
                key="mes.admin",
                title="Administration",
                url_name="admin:index",
                roles=(Role.ADMINISTRATOR.value,),
                description="Master data, people and their rights",
                order=900,
            )
        )
        register_tile(
            Tile(
                key="mes.api_docs",
                title="API documentation",
                url_name="api-docs",
                roles=(Role.ADMINISTRATOR.value, Role.INTEGRATION.value),
                description="The REST API (OpenAPI 3) for ERP and LIMS interfaces",
                order=910,
            )
        )

        register_tile(
            Tile(
                key="mes.analytics",
                title="Plant analytics",
                url_name="analytics:dashboard",
                roles=(
                    Role.SUPERVISOR.value,
                    Role.QA_REVIEWER.value,
                    Role.PLANNER.value,
                    Role.ADMINISTRATOR.value,
                ),
                description="OEE, yield, right first time, deviations and adherence over time",
                order=500,
            )
        )

        # Every app's checks.py (self-audit items) and metrics.py (dashboard figures).
        from mes.registry import autodiscover

        autodiscover()

        from mes import history

        history.install()
