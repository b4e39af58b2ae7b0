"""Installs the database side of the trail after every migrate (PostgreSQL)."""


def connect() -> None:
    """Filled in by the audit-trail implementation (post_migrate trigger installation)."""
