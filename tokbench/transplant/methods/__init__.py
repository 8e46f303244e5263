"""Registry of transplant methods: one module per method, each registering a function Context -> Plan."""

from __future__ import annotations

import importlib
from collections.abc import Callable

_MODULES = ("baselines", "subword_mean", "tokenadapt", "omp", "focus", "zett")
_METHODS: dict[str, Callable] = {}
_HELP: dict[str, str] = {}


def register(name: str, help: str = ""):
    def wrap(fn):
        _METHODS[name] = fn
        _HELP[name] = help or (fn.__doc__ or "").strip().splitlines()[0]
        return fn

    return wrap


def _load() -> None:
    """Import every method module (each registers itself); importing is idempotent."""
    for mod in _MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def names() -> list[str]:
    _load()
    return list(_METHODS)


def describe() -> dict[str, str]:
    _load()
    return dict(_HELP)


def get_method(name: str) -> Callable:
    from tokbench.errors import UsageError

    _load()
    if name not in _METHODS:
        raise UsageError(f"unknown method {name!r} (choose from {', '.join(_METHODS)})")
    return _METHODS[name]
