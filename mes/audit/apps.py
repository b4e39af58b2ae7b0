from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "mes.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from mes.audit import db, receivers, registry

        connection_created.connect(db.install_context_wrapper, dispatch_uid="mes-audit-context")
        registry.register_platform_tables()
        receivers.connect()
