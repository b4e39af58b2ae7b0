"""Test support shared by every app: putting back what the data migrations made (roles,
system users, role permissions, signature policies) after a transactional test's flush
emptied the tables."""

import functools
import time
from types import SimpleNamespace
from typing import Any


@functools.cache
def _data_migrations() -> tuple[Any, list[tuple[str, Any]]]:
    """The project's final historical app registry and every RunPython operation, in
    migration order (computed once per session)."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    ordered: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                ordered.append(node)
    operations = [
        (f"{app}.{name}", op)
        for app, name in ordered
        for op in loader.graph.nodes[(app, name)].operations
        if isinstance(op, RunPython)
    ]
    return loader.project_state().apps, operations


def restore_migration_data() -> float:
    """Re-run the data migrations (they are idempotent: get_or_create, add) against the
    project's final model state, when a flush has emptied what they made. Returns the seconds
    spent (0 when nothing was missing)."""
    from django.contrib.auth.models import Group
    from django.db import connection

    if Group.objects.exists():
        return 0.0
    started = time.perf_counter()
    state_apps, operations = _data_migrations()
    # Data migrations only: a schema statement (DDL) survives a flush, so it is not repeated.
    schema_editor = SimpleNamespace(connection=connection, execute=lambda *args, **kwargs: None)
    for _name, operation in operations:
        operation.code(state_apps, schema_editor)
    return time.perf_counter() - started


def race(*calls: Any) -> list[Any]:
    """Run the calls at the same moment, one thread and database connection each (for the
    PostgreSQL concurrency tests); return what each returned, or the DomainError it raised."""
    import threading

    from django.db import connection

    from mes.audit.context import system_context
    from mes.exceptions import DomainError

    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Any) -> None:
        try:
            with system_context("pytest-thread"):
                barrier.wait(timeout=10)
                results[index] = call()
        except DomainError as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def save_receivers(model: Any) -> tuple[list[str], list[str]]:
    """The modules of the pre_save and post_save receivers listening to `model`. A model
    written with mes.history.update_with_history (no signals sent) must have none but
    simple-history's: its tests assert this, so that a new receiver cannot silently miss
    those saves."""
    from django.db.models.signals import post_save, pre_save

    def modules(signal: Any) -> list[str]:
        return [
            getattr(r, "__self__", r).__class__.__module__ for r in signal._live_receivers(model)[0]
        ]

    return modules(pre_save), modules(post_save)
