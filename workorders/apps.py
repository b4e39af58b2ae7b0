from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    name = "workorders"
    verbose_name = "Work orders"

    def ready(self) -> None:
        from mes.accounts.roles import Role
        from mes.registry import Tile, register_tile

        register_tile(
            Tile(
                key="workorders.terminal",
                title="Work-order terminal",
                url_name="workorders:terminal",
                roles=(Role.OPERATOR.value, Role.SUPERVISOR.value),
                description="Clock on, run the machine, report units, scan components, inspect",
                order=250,
            )
        )
        register_tile(
            Tile(
                key="workorders.work_orders",
                title="Work orders",
                url_name="workorders:work_order_list",
                roles=(Role.PLANNER.value, Role.SUPERVISOR.value, Role.QA_REVIEWER.value),
                description="BOMs, routings, work orders, variance",
                order=260,
            )
        )
        from genealogy.gates import register_consumption_gate
        from mes.registry import register_demo_step
        from quality.signals import lot_released
        from workorders.demo import build_demo_workorders
        from workorders.gates import reserved_lot_gate
        from workorders.receivers import on_lot_released

        register_consumption_gate(reserved_lot_gate)
        lot_released.connect(on_lot_released, dispatch_uid="workorders.handoff")
        register_demo_step(
            "workorders.packaging",
            build_demo_workorders,
            order=600,
            title="Packaging line PK: kit BOM and routing, an open and a closed work order, "
            "the resin handoff rule",
        )
