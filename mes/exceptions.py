"""Domain errors. Every service raises one of these; the API maps them to
`{"code": ..., "detail": ...}` with the status below, the terminal shows the detail."""


class DomainError(Exception):
    """A rule of the plant refused the action. Nothing was written."""

    code = "domain_error"
    status_code = 400

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class InvalidInput(DomainError):
    code = "invalid_input"
    status_code = 400


class NotAuthorized(DomainError):
    """The actor lacks the role, permission or object scope for this action."""

    code = "not_authorized"
    status_code = 403


class NotFound(DomainError):
    code = "not_found"
    status_code = 404


class Conflict(DomainError):
    """The record is not in a state that allows the action (or another terminal won)."""

    code = "conflict"
    status_code = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class SignatureRefused(DomainError):
    """An electronic signature could not be applied (wrong credentials, policy)."""

    code = "signature_refused"
    status_code = 403
