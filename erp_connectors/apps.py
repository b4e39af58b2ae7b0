from django.apps import AppConfig


class ErpConnectorsConfig(AppConfig):
    name = "erp_connectors"
    verbose_name = "ERP connectors"

    def ready(self) -> None:
        from erp_connectors.demo import build_demo_erp
        from erp_connectors.outbox import connect_receivers
        from mes.accounts.roles import Role
        from mes.registry import Tile, register_demo_step, register_tile

        connect_receivers()
        register_tile(
            Tile(
                key="erp_connectors.outbox",
                title="ERP messages",
                url_name="erp_connectors:outbox",
                roles=(Role.ADMINISTRATOR.value, Role.SUPERVISOR.value, Role.INTEGRATION.value),
                description="ERP write-back: backlog, dead letters (inspect, fix, retry), "
                "reconciliation",
                order=900,
                icon="⇄",
            )
        )
        register_demo_step(
            "erp_connectors.sap",
            build_demo_erp,
            order=800,
            title="SAP simulator: a process order and a pail order pulled, the batch released, "
            "the handoff's pails packed, every confirmation delivered back to SAP",
        )
