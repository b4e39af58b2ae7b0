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
        # The demo step (workorders.demo) is not written yet: nothing is registered.
