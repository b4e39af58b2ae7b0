"""Login, logout and lockout news becomes security events (filled by the accounts work)."""


def connect() -> None:
    """Connected in AccountsConfig.ready()."""
