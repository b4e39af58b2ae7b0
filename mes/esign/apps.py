"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): one kernel service every app calls."""

import importlib.util

from django.apps import AppConfig


class EsignConfig(AppConfig):
    name = "mes.esign"
    label = "esign"
    verbose_name = "Electronic signatures"

    def ready(self) -> None:
        from mes.esign.selectors import SIGNATURE_VIEWER_ROLES
        from mes.registry import Tile, register_tile

        # The audit trail's verifier (`verify_audit_trail`) re-checks every signature's hash.
        if importlib.util.find_spec("mes.audit.verification") is not None:
            from mes.audit.verification import register_verifier

            register_verifier(verify_signatures_for_audit, name="esign.signatures")

        register_tile(
            Tile(
                key="esign.signatures",
                title="Signatures",
                url_name="esign:signature_list",
                roles=tuple(sorted(SIGNATURE_VIEWER_ROLES)),
                description="Every electronic signature, its meaning and whether it is still valid",
                order=800,
            )
        )


def verify_signatures_for_audit():  # type: ignore[no-untyped-def]
    """The verifier registered with mes.audit.verification: every signature's record hash."""
    from mes.audit.verification import VerifierReport
    from mes.esign.selectors import signatures_verify

    checked, problems = signatures_verify()
    return VerifierReport(checked=checked, problems=problems)
