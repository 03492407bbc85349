"""What every framework integration needs: resources and args of a call, the worker's identity,
errors as (type, message, traceback), a lazy import with an install hint, a guard that keeps
tracking from ever raising into a job, and a kill-request poller.

Every helper here is safe to call from a framework hook: none raises on bad user input (a bad
resource or label is dropped, so it cannot make the store reject the whole event).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from jobtrail.events import MAX_ARGS_BYTES, MAX_RESULT_BYTES, cap_args, redact

if TYPE_CHECKING:
    from jobtrail.client import Trail
    from jobtrail.model import Job

__all__ = [
    "DEFAULT_KILL_POLL_SECONDS",
    "KillPoller",
    "MissingExtra",
    "Resources",
    "Ticker",
    "WorkerIdentity",
    "args_snapshot",
    "call_fields",
    "clean_labels",
    "default_resources",
    "emit",
    "error_info",
    "never_raise",
    "plain_call",
    "require",
    "resources_for",
    "result_snapshot",
    "warn_once",
    "worker_identity",
]

log = logging.getLogger("jobtrail.integrations")
F = TypeVar("F", bound=Callable[..., Any])

Resources = Callable[..., Iterable[str]] | Sequence[str] | None
"""What a task declares as `resources=`: a list, a function of the call's arguments, or None for
the default rule (`default_resources`)."""

DEFAULT_KILL_POLL_SECONDS = 2.0
"""How often a worker asks the Trail for kill requests, in seconds."""
MAX_KILL_PAGES = 100  # pages of pending kill requests a poll reads (of `KillPoller.limit` jobs)
MAX_RESOURCES = 64  # as events.py accepts
MAX_TEXT = 200  # characters of a resource, label value (events.MAX_NAME_CHARS / MAX_ID_CHARS)
_RESOURCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*:\S.*$")  # the rule events.py enforces
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_ID_PARAM = re.compile(r"^([a-z][a-z0-9]*(?:_[a-z0-9]+)*)_(id|ids)$")


class MissingExtra(ImportError):
    """The framework an integration adapts is not installed; the message says what to install."""


def require(module: str, extra: str) -> ModuleType:
    """Import `module` now (integrations import their framework lazily), or raise `MissingExtra`
    with the pip command for jobtrail's `extra`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"jobtrail's {extra} integration needs {module!r} ({exc}): pip install 'jobtrail[{extra}]'"
        ) from exc


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_once(key: str, message: str, *args: Any, exc_info: bool = False) -> None:
    """Log `message` the first time `key` is seen in this process, so a broken hook cannot flood."""
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    log.warning(message, *args, exc_info=exc_info)


def never_raise(what: str) -> Callable[[F], F]:
    """Decorator for framework hooks: any exception is logged once (per `what`) and swallowed,
    and the hook returns None, because tracking must never break or fail the job."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the job boundary: log once, never propagate
                warn_once(what, "jobtrail: %s failed; the job is unaffected", what, exc_info=True)
                return None

        return guarded  # type: ignore[return-value]

    return wrap


# ---- the call: args, resources, labels -------------------------------------------------------


_PLAIN = frozenset({str, int, float, bool, type(None)})
_PLAIN_MAX = 16  # arguments in a call that the fast path takes
_PLAIN_TEXT = 256  # characters of a string argument the fast path takes


def _plain(values: Iterable[Any]) -> bool:
    return all(type(v) in _PLAIN and (type(v) is not str or len(v) <= _PLAIN_TEXT) for v in values)


def plain_call(args: Sequence[Any], kwargs: Mapping[str, Any]) -> bool:
    """A few short scalars (the usual task call): already JSON, far below the cap, and immutable,
    so a shallow copy of the call is a snapshot that later changes to the caller's list or dict
    cannot reach."""
    return len(args) + len(kwargs) <= _PLAIN_MAX and _plain(args) and _plain(kwargs.values())


def args_snapshot(args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> Any:
    """`{"args": [...], "kwargs": {...}}` with secret-looking keys redacted and capped at
    `MAX_ARGS_BYTES` of JSON (a preview beyond); None for a call without arguments."""
    if not args and not kwargs:
        return None
    kwargs = kwargs or {}
    if plain_call(args, kwargs):
        # A few short scalars (the usual task call): already JSON and far below the cap; a
        # positional URL may still carry a password.
        return {"args": redact(list(args)), "kwargs": redact(kwargs)}
    try:
        return cap_args(redact({"args": list(args), "kwargs": dict(kwargs)}), MAX_ARGS_BYTES)
    except Exception:  # noqa: BLE001 - an argument whose repr() raises
        return {"_unrepresentable": f"{len(args)} args, {len(kwargs)} kwargs"}


def result_snapshot(value: Any) -> Any:
    """A task's return value as recorded: a short scalar as it is (too short to cap, and copying
    it through JSON costs a task ~10 µs; a URL's password is still redacted), anything else
    redacted and capped at half of `MAX_RESULT_BYTES`."""
    if value is None or _plain((value,)):
        return redact(value) if type(value) is str else value
    try:
        return cap_args(redact(value), MAX_RESULT_BYTES // 2)
    except Exception:  # noqa: BLE001 - a value whose repr() raises
        return {"_unrepresentable": type(value).__name__}


@functools.lru_cache(maxsize=2048)
def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _named(fn: Callable[..., Any] | None, args: Sequence[Any],
           kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The call's arguments by parameter name (positional ones too, when `fn` has a signature)."""
    named = dict(kwargs)
    sig = _signature(fn) if fn is not None and args else None
    if sig is None:
        return named
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return named
    for name, value in bound.arguments.items():
        kind = sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD and isinstance(value, Mapping):
            named.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            named[name] = value
    return named


@functools.lru_cache(maxsize=4096)
def _id_model(name: str) -> tuple[str, bool] | None:
    """`("TaskPlan", False)` for "task_plan_id", `("Book", True)` for "book_ids", else None."""
    match = _ID_PARAM.match(name)
    if match is None:
        return None
    model = "".join(part[:1].upper() + part[1:] for part in match.group(1).split("_"))
    return model, match.group(2) == "ids"


@functools.lru_cache(maxsize=2048)
def _positional_ids(fn: Callable[..., Any]) -> tuple[tuple[int, str], ...]:
    """(position, name) of `fn`'s positional parameters named like a model id."""
    sig = _signature(fn)
    if sig is None:
        return ()
    out = []
    for i, param in enumerate(sig.parameters.values()):
        if param.kind not in (inspect.Parameter.POSITIONAL_ONLY,
                              inspect.Parameter.POSITIONAL_OR_KEYWORD):
            break
        if _id_model(param.name) is not None:
            out.append((i, param.name))
    return tuple(out)


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text.strip() else None


def default_resources(fn: Callable[..., Any] | None, args: Sequence[Any],
                      kwargs: Mapping[str, Any]) -> list[str]:
    """The default rule: an argument named `<model>_id` (snake_case) whose value is a string or an
    integer gives the resource `<Model>:<value>`, the model in CamelCase (`book_id=42` → `Book:42`,
    `task_plan_id=7` → `TaskPlan:7`); `<model>_ids` with a list gives one per item. Positional
    arguments count by their parameter name when `fn` is known. A bare `id` names no model."""
    pairs: list[tuple[str, Any]] = []
    if fn is not None and args:
        try:
            pairs = [(name, args[i]) for i, name in _positional_ids(fn) if i < len(args)]
        except TypeError:  # an unhashable callable: its positional names stay unknown
            pairs = []
    pairs += kwargs.items()
    out = []
    for name, value in pairs:
        parsed = _id_model(name) if isinstance(name, str) else None
        if parsed is None:
            continue
        model, plural = parsed
        if not plural:
            values: Iterable[Any] = [value]
        elif isinstance(value, list | tuple):
            values = value
        else:
            continue
        out += [f"{model}:{text}" for text in map(_scalar, values) if text is not None]
    return out


def _clean_resources(items: Iterable[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, str) and len(item) <= MAX_TEXT and _RESOURCE.match(item) \
                and "\x00" not in item and item not in out:
            out.append(item)
            if len(out) == MAX_RESOURCES:
                break
    return out


def _call_declared(declared: Callable[..., Iterable[str]], fn: Callable[..., Any] | None,
                   args: Sequence[Any], kwargs: Mapping[str, Any]) -> Iterable[str]:
    """`declared(*args, **kwargs)`, or with every argument by name when that is what it accepts
    (`lambda book_id, **_: ...` for a call made as `task.delay(42, ...)`)."""
    sig = _signature(declared)
    if sig is not None and args:
        try:
            sig.bind(*args, **kwargs)
        except TypeError:
            return declared(**_named(fn, args, kwargs))
    return declared(*args, **kwargs)


def resources_for(declared: Resources, fn: Callable[..., Any] | None, args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> list[str]:
    """The resources of one call: from `declared` when it is a function (called with the call's
    arguments, by name if need be) or a list, else `default_resources`. Invalid entries (not
    `Type:id`) are dropped; a declaration that raises is logged once and gives none."""
    try:
        if declared is None:
            items: Iterable[Any] = default_resources(fn, args, kwargs)
        elif callable(declared):
            items = _call_declared(declared, fn, args, kwargs) or ()
        else:
            items = declared
        if isinstance(items, str):
            items = [items]
        return _clean_resources(items)
    except Exception:  # noqa: BLE001 - user code: the job runs on without resources
        warn_once(f"resources:{getattr(fn, '__qualname__', fn)}",
                  "jobtrail: the resources declaration of %s raised; recorded without resources",
                  getattr(fn, "__qualname__", fn), exc_info=True)
        return []


def clean_labels(labels: Mapping[str, Any] | None) -> dict[str, str]:
    """Labels the store accepts: keys of letters, digits, `_ . -` (≤ 64), scalar values as text
    (≤ 200 characters); anything else is dropped rather than failing the event."""
    out: dict[str, str] = {}
    for key, value in (labels or {}).items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        text = str(value)
        if text.strip() and len(text) <= MAX_TEXT and "\x00" not in text:
            out[key] = text
    return out


def call_fields(declared: Mapping[str, Any], fn: Callable[..., Any] | None,
                args: Sequence[Any], kwargs: Mapping[str, Any], *,
                with_args: bool = True) -> dict[str, Any]:
    """The event fields one call contributes (args, resources, labels, keep), from the task's
    declaration (`resources=`, `labels=`, `keep=`) and the call's arguments (`with_args=False`:
    no args snapshot, for an event after the one that recorded them)."""
    return {
        "args": args_snapshot(args, kwargs) if with_args else None,
        "resources": resources_for(declared.get("resources"), fn, args, kwargs) or None,
        "labels": clean_labels(declared.get("labels")) or None,
        "keep": declared.get("keep"),
    }


# ---- worker and errors -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    host: str
    pid: int

    @property
    def name(self) -> str:
        """`host:pid`, the worker name jobs record (and the default worker heartbeat id)."""
        return f"{self.host}:{self.pid}"


_identity: list[WorkerIdentity] = []  # this process's, once asked; emptied in a forked child
os.register_at_fork(after_in_child=_identity.clear)


def worker_identity() -> WorkerIdentity:
    """This process: call it where the job runs (a forked pool child has its own pid)."""
    if not _identity:
        _identity.append(WorkerIdentity(socket.gethostname(), os.getpid()))
    return _identity[0]


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises
        return f"<unprintable {type(value).__name__}>"


def error_info(exc: BaseException, tb: TracebackType | str | None = None) -> dict[str, str]:
    """`{"type", "message", "traceback"}` for an event's `error`; `tb` may be a traceback object or
    already formatted text (a framework's remote traceback), else the exception's own is used."""
    if isinstance(tb, str):
        text = tb
    else:
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        except Exception:  # noqa: BLE001 - a broken __str__ inside the chain
            text = f"{type(exc).__qualname__}: {_text(exc)}"
    return {"type": type(exc).__qualname__, "message": _text(exc), "traceback": text}


def emit(trail: Trail, kind: str, job_id: str, *, attempt: int = 1, at: float | None = None,
         **fields: Any) -> None:
    """Buffer one event of `kind` for `job_id` on the Trail's background writer (never blocks or
    raises). For the events a framework reports outside the job's own process, e.g. a revoke
    seen by the worker's main process; None fields are left out."""
    event: dict[str, Any] = {"job_id": job_id, "type": kind,
                             "at": time.time() if at is None else at, "attempt": attempt}
    event.update((k, v) for k, v in fields.items() if v is not None)
    trail._emit(event)  # the client's non-blocking append, shared with JobHandle


# ---- kill requests ---------------------------------------------------------------------------


class Ticker:
    """A daemon thread calling `fn()` every `interval` seconds until `stop()`; an exception is
    logged once per type and the next round goes on (worker heartbeats, kill polling)."""

    def __init__(self, fn: Callable[[], Any], interval: float, name: str = "jobtrail-ticker") -> None:
        self.fn = fn
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.fn()
            except Exception as exc:  # noqa: BLE001 - e.g. the server is down; next round retries
                warn_once(f"{self.name}:{type(exc).__name__}",
                          "jobtrail: %s failed (%s); retrying every %.1fs", self.name, _text(exc),
                          self.interval)

    def start(self) -> Ticker:
        """Start the thread (a second call while it runs does nothing)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None


class KillPoller:
    """A daemon thread in the worker process that asks the Trail, every `interval` seconds, which
    jobs in this worker's `queues` (all queues when empty) have a pending kill request (read in
    pages of `limit`), and calls `on_kill(job)` once for each. `job.started_at is None` means it
    never started (cancel it); otherwise it is running (terminate it).

    A failed read (server down, no `read` scope) is logged once and tried again next round; an
    `on_kill` that raises is logged once and not called again for that job.
    """

    def __init__(self, trail: Trail, on_kill: Callable[[Job], None], *,
                 queues: Iterable[str] | Callable[[], Iterable[str]] = (),
                 interval: float = DEFAULT_KILL_POLL_SECONDS, limit: int = 500) -> None:
        self.trail = trail
        self.on_kill = on_kill
        self.queues = queues
        self.interval = interval
        self.limit = limit
        self._handled: set[str] = set()
        self._ticker = Ticker(self.poll, interval, "jobtrail-kill-poller")

    def _queues(self) -> list[str]:
        queues = self.queues() if callable(self.queues) else self.queues
        return sorted(set(queues))

    def poll(self) -> list[Job]:
        """One round, in the caller's thread: the jobs handed to `on_kill` this time."""
        queues = self._queues()
        query = self.trail.jobs(state="kill_requested", queue=queues or None)
        # Every page: a queued job stays kill_requested until its worker receives it, so the
        # newest page alone would hide the older requests for good.
        pending: dict[str, Job] = {}
        cursor: str | None = None
        for _ in range(MAX_KILL_PAGES):
            page = query.page(limit=self.limit, cursor=cursor)
            pending.update((job.id, job) for job in page.jobs)
            cursor = page.next_cursor
            if cursor is None:
                break
        # Forget jobs that left kill_requested (they ended), so the set stays small.
        self._handled &= set(pending)
        fresh = [job for job_id, job in pending.items() if job_id not in self._handled]
        for job in fresh:
            self._handled.add(job.id)
            try:
                self.on_kill(job)
            except Exception:  # noqa: BLE001 - the framework's kill failed; keep polling others
                warn_once("kill-callback", "jobtrail: acting on the kill request of %s failed",
                          job.id, exc_info=True)
        return fresh

    def start(self) -> KillPoller:
        """Start polling in a daemon thread (a second call while it runs does nothing)."""
        self._ticker.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._ticker.stop(timeout)
