from django.apps import AppConfig


class EquipmentConfig(AppConfig):
    name = "equipment"
    verbose_name = "Equipment and maintenance"

    def ready(self) -> None:
        from equipment.demo import build_demo_equipment
        from equipment.models import Unit
        from mes.accounts.roles import Role
        from mes.audit.registry import register
        from mes.registry import Tile, register_demo_step, register_scan_resolver, register_tile

        # The unit ↔ capability links are master data of the plant model: audited too.
        register(Unit.capabilities.through)

        register_tile(
            Tile(
                key="equipment.status",
                title="Equipment status",
                url_name="equipment:plant",
                roles=(
                    Role.OPERATOR.value,
                    Role.SUPERVISOR.value,
                    Role.MAINTENANCE.value,
                    Role.PLANNER.value,
                    Role.QA_REVIEWER.value,
                ),
                description="Units, status, cleaning state, calibration flags",
                order=200,
                icon="⚙",
            )
        )
        register_tile(
            Tile(
                key="equipment.maintenance",
                title="Maintenance",
                url_name="equipment:maintenance_list",
                roles=(Role.MAINTENANCE.value, Role.SUPERVISOR.value),
                description="Preventive and corrective maintenance work orders",
                order=210,
                icon="⚒",
            )
        )
        register_tile(
            Tile(
                key="equipment.instruments",
                title="Instruments and calibration",
                url_name="equipment:instrument_list",
                roles=(Role.MAINTENANCE.value, Role.QA_REVIEWER.value, Role.SUPERVISOR.value),
                description="Calibration due dates, overdue instruments",
                order=220,
                icon="⚖",
            )
        )
        register_demo_step(
            "equipment.plant",
            build_demo_equipment,
            order=200,
            title="Plant model, instruments, cleaning and maintenance history",
        )
        register_scan_resolver("equipment.code", _resolve_scan, order=200)


def _resolve_scan(code: str, user: object) -> str | None:
    """A scanned unit or instrument code opens its page (if the user may see it)."""
    from django.urls import reverse

    from equipment import selectors

    unit = selectors.unit_list(actor=user, include_inactive=True).filter(code__iexact=code).first()
    if unit is not None:
        return reverse("equipment:unit_detail", args=[unit.pk])
    instrument = selectors.instrument_list(actor=user).filter(code__iexact=code).first()
    if instrument is not None:
        return reverse("equipment:instrument_detail", args=[instrument.pk])
    return None
