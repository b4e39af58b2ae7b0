"""Fixtures of the audit tests (shared with tests/test_audit_*.py through mes.audit.testing)."""

from mes.audit.testing import checkpoint_files, trail  # noqa: F401
