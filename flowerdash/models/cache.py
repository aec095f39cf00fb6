"""One cache of objects derived from a model (logits model, compiled functions, explainers).

Weakly keyed: an entry goes when its model is collected, so a cached value must not hold the
model itself (hold a ``weakref`` to it). Dashboard sessions ask from several threads: each value
is built once, while the others asking for it wait; building one value (an explainer's model
copy can take seconds) does not hold up look-ups of any other.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["clear", "per_model"]

T = TypeVar("T")

_ENTRIES: weakref.WeakKeyDictionary[Any, OrderedDict[Hashable, Any]] = weakref.WeakKeyDictionary()
_BUILDING: weakref.WeakKeyDictionary[Any, dict[Hashable, threading.RLock]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()  # guards the two tables; never held while building


def _lookup(model: Any, key: Hashable, fresh: Callable[[Any], bool] | None) -> tuple[bool, Any]:
    entries = _ENTRIES.get(model)
    if entries is not None and key in entries and (fresh is None or fresh(entries[key])):
        entries.move_to_end(key)
        return True, entries[key]
    return False, None


def per_model(
    model: Any,
    key: Hashable,
    build: Callable[[], T],
    *,
    fresh: Callable[[T], bool] | None = None,
    keep: int | None = None,
) -> T:
    """The value cached for ``model`` under ``key``, built by ``build()`` when missing.

    ``fresh(value)`` False rebuilds a stale value. With ``keep``, ``key`` is a tuple and at most
    ``keep`` entries sharing its first element stay, the least recently used going first.
    """
    with _LOCK:
        found, value = _lookup(model, key, fresh)
        if found:
            return value
        building = _BUILDING.setdefault(model, {}).setdefault(key, threading.RLock())
    with building:
        with _LOCK:
            found, value = _lookup(model, key, fresh)  # built while this thread waited
        if found:
            return value
        value = build()
        with _LOCK:
            entries = _ENTRIES.setdefault(model, OrderedDict())
            entries[key] = value
            if keep is not None:
                group = [k for k in entries if isinstance(k, tuple) and k[:1] == key[:1]]
                for old in group[: max(len(group) - keep, 0)]:
                    del entries[old]
        return value


def clear(model: Any) -> None:
    """Forget everything cached for ``model``."""
    with _LOCK:
        _ENTRIES.pop(model, None)
        _BUILDING.pop(model, None)
