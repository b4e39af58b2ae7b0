from mes.exceptions import Conflict, DomainError


class SigningKeyMissing(DomainError):
    """The checkpoint signing key is not provisioned (production never generates one)."""

    code = "audit_signing_key_missing"
    status_code = 503


class CheckpointRefused(Conflict):
    code = "audit_checkpoint_refused"
