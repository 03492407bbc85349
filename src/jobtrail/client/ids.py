"""Job ids made in the job's thread without a system call.

`uuid4()` reads the OS random source on every call, which costs tens of microseconds on some
sandboxed kernels; tracking must stay cheap. An id here is a random 64-bit process prefix (drawn
again after fork) and a counter: unique across processes with overwhelming probability.
"""

from __future__ import annotations

import itertools
import os

__all__ = ["new_job_id"]


def _reset() -> None:
    global _prefix, _counter
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(1)


_prefix = ""
_counter = itertools.count(1)
_reset()
os.register_at_fork(after_in_child=_reset)


def new_job_id() -> str:
    return f"{_prefix}{next(_counter):08x}"
