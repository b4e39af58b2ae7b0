"""django-simple-history, made cheaper on the save path.

Reading `instance.history` (simple-history does it on every save of a model with history, to
find the historical model) builds a new manager class each time:
`HistoryManager.from_queryset(HistoricalQuerySet)`, which walks the queryset class with
`inspect.getmembers`. That was about a third of the cost of writing a history row, on every
terminal action. The class depends only on the two classes, so it is built once.
"""

import functools
from typing import Any


@functools.cache
def _manager_class(manager: type, queryset: type) -> type:
    return manager.from_queryset(queryset)  # type: ignore[attr-defined, no-any-return]


def _history_get(self: Any, instance: Any, owner: Any) -> Any:
    return _manager_class(self.manager_class, self.queryset_class)(self.model, instance)


def install() -> None:
    from simple_history.manager import HistoryDescriptor

    HistoryDescriptor.__get__ = _history_get  # type: ignore[method-assign]
