from django.apps import AppConfig


class GenealogyConfig(AppConfig):
    name = "genealogy"
    verbose_name = "Lot genealogy"

    def ready(self) -> None:
        from mes import registry
        from mes.accounts.roles import Role

        registry.register_tile(
            registry.Tile(
                key="genealogy",
                title="Genealogy & recall",
                url_name="genealogy:lot_search",
                roles=(Role.QA_REVIEWER.value, Role.SUPERVISOR.value),
                description="Trace a lot backward and forward; recall scope by lot or supplier lot.",
                order=40,
            )
        )
        if hasattr(registry, "register_scan_resolver"):
            from genealogy.scan import resolve_lot_code

            registry.register_scan_resolver("genealogy.lot", resolve_lot_code, order=300)
        if hasattr(registry, "register_demo_step"):
            from genealogy.demo import build_demo_genealogy

            registry.register_demo_step(
                "genealogy.lots",
                build_demo_genealogy,
                order=150,
                title="Genealogy: supplier lots, a resin batch, sub-lots, pails, shipments",
            )
