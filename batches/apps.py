"""Batches and EBR."""

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "batches"
    verbose_name = "Batches and EBR"

    def ready(self) -> None:
        from batches import receivers
        from batches.demo import build_demo_batches
        from mes.accounts.roles import Role
        from mes.registry import Tile, register_demo_step, register_tile
        from recipes.signals import recipe_version_superseded

        recipe_version_superseded.connect(
            receivers.on_recipe_version_superseded, dispatch_uid="batches-version-superseded"
        )
        register_tile(
            Tile(
                key="batches.list",
                title="Batches",
                url_name="batches:batch_list",
                roles=(
                    Role.OPERATOR.value,
                    Role.SUPERVISOR.value,
                    Role.QA_REVIEWER.value,
                    Role.PLANNER.value,
                ),
                description="Batch orders, the operator terminal, review and release, the EBR",
                order=250,
                icon="⚗",
            )
        )
        register_demo_step(
            "batches.resin",
            build_demo_batches,
            order=500,
            title="Batches of RESIN-PA in R-101: one released (with a closed deviation), one running",
        )
