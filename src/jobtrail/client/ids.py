"""Job ids made in the job's thread without a system call.

`uuid4()` reads the OS random source on every call, which costs tens of microseconds on some
sandboxed kernels; tracking must stay cheap. An id here is a random 64-bit process prefix (drawn
again in a forked child, on its first id there) and a counter: unique across processes with
overwhelming probability.
"""

from __future__ import annotations

import itertools
import os

__all__ = ["new_job_id"]

_state: list[tuple[str, itertools.count[int]]] = []  # (prefix, counter); emptied in a forked child
os.register_at_fork(after_in_child=_state.clear)  # a builtin: no Python runs at fork (see forks)


def new_job_id() -> str:
    if not _state:
        _state.append((os.urandom(8).hex(), itertools.count(1)))  # first id in this process
    prefix, counter = _state[0]
    return f"{prefix}{next(counter):08x}"
