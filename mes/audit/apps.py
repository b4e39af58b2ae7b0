from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mes.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from mes.accounts.roles import Role
        from mes.audit import db, receivers, registry
        from mes.registry import Tile, register_tile

        connection_created.connect(db.install_context_wrapper, dispatch_uid="mes-audit-context")
        registry.register_platform_tables()
        receivers.connect()
        register_tile(
            Tile(
                key="audit.trail",
                title="Audit trail",
                url_name="audit:event_list",
                roles=(Role.QA_REVIEWER.value, Role.ADMINISTRATOR.value),
                description="Who changed which GMP record, when and why",
                order=800,
            )
        )
