"""The production-model diagnostic and MES self-audit (the four-step checklist)."""

from django.apps import AppConfig


class DiagnosticConfig(AppConfig):
    name = "mes.diagnostic"
    label = "diagnostic"
    verbose_name = "Production-model diagnostic and self-audit"

    def ready(self) -> None:
        from mes.accounts.roles import Role
        from mes.diagnostic import platform_checks
        from mes.diagnostic.demo import build_demo_assessment
        from mes.registry import Tile, register_demo_step, register_tile

        platform_checks.register()
        register_tile(
            Tile(
                key="diagnostic.assessments",
                title="Self-audit",
                url_name="diagnostic:assessment_list",
                roles=(Role.ADMINISTRATOR.value, Role.QA_REVIEWER.value, Role.SUPERVISOR.value),
                description="Which production model runs here, what the MES must do for it, "
                "and does it: the four-step checklist on this installation's own data",
                order=800,
                icon="✓",
            )
        )
        register_demo_step(
            "diagnostic.assessment",
            build_demo_assessment,
            order=950,
            title="Self-audit: one assessment of the last 90 days, signed by QA",
        )
