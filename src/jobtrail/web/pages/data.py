"""Modules the dashboard uses when they are installed: the monitoring helpers' `jobtrail.health`
and `jobtrail.alerts` are looked up at request time, and the pages say "not configured yet"
without them."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["optional_module"]


def optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
