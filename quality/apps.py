from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "quality"
    verbose_name = "Quality"

    def ready(self) -> None:
        from genealogy.gates import register_consumption_gate, register_shipment_gate
        from mes.accounts.roles import Role
        from mes.registry import Tile, register_demo_step, register_tile
        from quality.demo import build_demo_quality
        from quality.gates import only_released_lots_consumed, only_released_lots_shipped

        # Only lots QA released (and not expired) may be consumed or shipped.
        register_consumption_gate(only_released_lots_consumed)
        register_shipment_gate(only_released_lots_shipped)

        register_tile(
            Tile(
                key="quality.review_queue",
                title="QA review queue",
                url_name="quality:review_queue",
                roles=(Role.QA_REVIEWER.value, Role.SUPERVISOR.value),
                description="Lots awaiting disposition, open deviations, overdue CAPA",
                order=300,
            )
        )
        register_tile(
            Tile(
                key="quality.deviations",
                title="Deviations",
                url_name="quality:deviation_list",
                roles=(
                    Role.OPERATOR.value,
                    Role.SUPERVISOR.value,
                    Role.QA_REVIEWER.value,
                    Role.MAINTENANCE.value,
                    Role.PLANNER.value,
                    Role.RECIPE_AUTHOR.value,
                ),
                description="Report a deviation; follow investigations and CAPA",
                order=310,
            )
        )
        register_tile(
            Tile(
                key="quality.spc",
                title="SPC charts",
                url_name="quality:spc_list",
                roles=(Role.QA_REVIEWER.value, Role.SUPERVISOR.value, Role.OPERATOR.value),
                description="Control charts of captured values, with rule violations",
                order=320,
            )
        )
        register_demo_step(
            "quality.specs_results_deviations",
            build_demo_quality,
            order=400,
            title="specifications, lab results, a released lot, an open deviation with CAPA",
        )
