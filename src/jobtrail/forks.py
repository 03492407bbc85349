"""Noticing `fork()` without running Python in the child.

A forked child that never uses jobtrail (an RQ work horse, forked per job) should run none of its
code: each line of Python a child runs writes reference counts into the objects it touches, and
every page of the parent's heap written that way costs the child a copy-on-write fault (measured:
~80 faults per child for the client's former at-fork hooks). So the only at-fork hook is a
builtin (`list.clear`), and an object that keeps per-process state (locks, threads, connections)
checks its flag where it is used, and starts over there, on its first use in the child.
"""

from __future__ import annotations

import os
import threading

__all__ = ["process_flag", "reinit_lock"]


def process_flag() -> list[bool]:
    """`[True]` in this process, emptied in a forked child by a builtin at-fork hook: the owner
    tests `if not flag:` on use, makes its state anew and takes a new flag."""
    flag = [True]
    os.register_at_fork(after_in_child=flag.clear)
    return flag


_locks: dict[int, threading.Lock] = {}


def reinit_lock() -> threading.Lock:
    """A lock of this process (a new one per pid, so never one a parent's thread held at fork),
    for the first use in a child that more than one thread may reach at once."""
    return _locks.setdefault(os.getpid(), threading.Lock())
