from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"

    def ready(self) -> None:
        from mes.accounts.roles import Role
        from mes.registry import Tile, register_demo_step, register_tile
        from scheduling.demo import build_demo_schedules

        register_tile(
            Tile(
                key="scheduling.schedules",
                title="Schedule",
                url_name="scheduling:schedule_list",
                roles=(Role.PLANNER.value, Role.SUPERVISOR.value),
                description="Gantt of work centers and vessels: solve, move, lock, publish",
                order=300,
                icon="▤",
            )
        )
        register_tile(
            Tile(
                key="scheduling.dispatch",
                title="Dispatch list",
                url_name="scheduling:dispatch_index",
                roles=(Role.OPERATOR.value, Role.SUPERVISOR.value, Role.PLANNER.value),
                description="What to run next on each work center and vessel",
                order=310,
                icon="☰",
            )
        )
        register_demo_step(
            "scheduling.schedules",
            build_demo_schedules,
            order=700,
            title="A published schedule of the demo plant and a proposed one",
        )
