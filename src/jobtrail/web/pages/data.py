"""Where the pages get their numbers: `jobtrail.insights` when it is installed, else `fallback`.

A thin adapter, so the pages depend on one set of names (the insights contract) whichever provides
them; the monitoring modules (`jobtrail.health`, `jobtrail.alerts.store`) are looked up the same way
and the pages show "not configured yet" without them.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from jobtrail.web.pages import fallback

__all__ = ["insight", "optional_module"]


def optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def insight(function: str) -> Any:
    """`jobtrail.insights.<function>` if it exists, else the fallback of the same name (or None)."""
    module = optional_module("jobtrail.insights")
    if module is not None and hasattr(module, function):
        return getattr(module, function)
    return getattr(fallback, function, None)
