"""Validate and normalise incoming events: clear errors for bad input, secrets redacted, args capped.

Pure: no I/O. `normalize` either returns a clean event dict that `states.merge` accepts, or raises
`InvalidEvent` naming the field and the reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobtrail.errors import InvalidEvent, InvalidInput
from jobtrail.states import EVENT_TYPES

__all__ = [
    "MAX_ARGS_BYTES",
    "MAX_FUTURE_SECONDS",
    "REDACTED",
    "URL_PASSWORD",
    "cap_args",
    "normalize",
    "redact",
    "scrub",
]

MAX_ARGS_BYTES = 16 * 1024
"""Largest args, as compact JSON, that ingest accepts (the client truncates before sending)."""
MAX_RESULT_BYTES = 4 * 1024
MAX_TRACEBACK_CHARS = 32 * 1024
MAX_MESSAGE_CHARS = 4 * 1024
MAX_ID_CHARS = 200
MAX_NAME_CHARS = 200
MAX_FUTURE_SECONDS = 300.0
"""Clock skew tolerated between a sender and the store; later timestamps are rejected."""
MIN_TIMESTAMP = 946_684_800.0  # 2000-01-01: earlier values are almost always a unit mistake
MAX_LABELS = 32
MAX_RESOURCES = 64

_SECRET_KEY = re.compile(
    # `pass` and `auth` as words of their own (db_pass, basic_auth, authHeader), not the start
    # of passenger or author
    r"pass(?:word|wd|phrase)|(?:pass|auth)(?-i:(?![a-z]))|pwd|secret|token|api[-_]?key|"
    r"authori[sz]ation|credential|"
    r"private[-_]?key|cookie|session[-_]?id|signature",
    re.IGNORECASE,
)
URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@", re.IGNORECASE)
"""scheme://user:password@host, as in a database URL passed to a task: the password goes
(group 1 is what stays; `jobtrail run` redacts its output tail with it too)."""
_RESOURCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*:[^\s].*$")
_LABEL_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_PROGRESS_KEYS = ("done", "total", "failed", "skipped")
_END_ERRORS = frozenset({"failed", "retrying", "killed"})
_ALLOWED = frozenset(
    {
        "event_id",
        "job_id",
        "type",
        "at",
        "attempt",
        "name",
        "queue",
        "batch",
        "resources",
        "labels",
        "args",
        "worker",
        "progress",
        "error",
        "result",
        "keep",
    }
)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """A copy of `value` with every mapping entry whose key looks like a secret replaced, and
    the password of every URL in its text."""
    if isinstance(value, str):
        return URL_PASSWORD.sub(r"\1" + REDACTED + "@", value) if "://" in value else value
    if type(value) is dict or isinstance(value, Mapping):
        return {
            str(k): (REDACTED if _SECRET_KEY.search(str(k)) else redact(v))
            for k, v in value.items()
        }
    if type(value) is list or isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


_compact = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _text_problem(text: str) -> str | None:
    """Why a column value cannot be stored as text (None when it can)."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if text.isascii():  # the common case: no surrogate can hide in it
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def cap_args(value: Any, limit: int = MAX_ARGS_BYTES) -> Any:
    """`value` if it fits in `limit` bytes of JSON, else a marker with a preview (used by clients)."""
    text = json.dumps(value, separators=(",", ":"), default=repr)
    if len(text.encode()) <= limit:
        return json.loads(text)
    return {"_truncated": f"{len(text.encode())} bytes", "preview": text[: min(1024, limit // 2)]}


def _fail(index_field: str, reason: str) -> InvalidEvent:
    return InvalidEvent(f"{index_field}: {reason}")


def _string(event: Mapping[str, Any], field: str, limit: int) -> str | None:
    value = event.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _fail(field, "must not be empty")
    problem = _text_problem(value)
    if problem:
        raise _fail(field, problem)
    if len(value) > limit:
        raise _fail(field, f"is {len(value)} characters; the limit is {limit}")
    return value


def _timestamp(value: Any, now: float) -> float:
    if isinstance(value, bool) or value is None:
        raise _fail("at", "is required: RFC 3339 text or Unix seconds")
    if isinstance(value, int | float):
        try:
            at = float(value)
        except OverflowError:  # a JSON integer of hundreds of digits
            raise _fail("at", "is too large to be Unix seconds") from None
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise _fail("at", f"{value!r} is not RFC 3339 or Unix seconds") from None
        if datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
            raise _fail("at", f"{value!r} has no time zone offset")
    else:
        raise _fail("at", f"must be RFC 3339 text or Unix seconds, got {type(value).__name__}")
    if not math.isfinite(at):
        raise _fail("at", "must be a finite number")
    if at > 1e11:
        raise _fail("at", f"{value!r} looks like milliseconds; send seconds")
    if at < MIN_TIMESTAMP:
        raise _fail("at", f"{value!r} is before the year 2000")
    if at > now + MAX_FUTURE_SECONDS:
        raise _fail(
            "at", f"is {at - now:.0f}s in the future (more than {MAX_FUTURE_SECONDS:.0f}s of skew)"
        )
    return at


MAX_COUNT = 10**12
MAX_ATTEMPT = 10_000


def _count(value: Any, field: str, limit: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise _fail(field, f"must be a whole number from 0 to {limit}")
    return value


def _keep(value: Any) -> float:
    """Retention override in seconds; -1 means keep forever."""
    if value == "forever":
        return -1.0
    from jobtrail.durations import parse_duration

    try:
        return parse_duration(value)
    except InvalidInput as exc:
        raise _fail("keep", f"{exc} (or 'forever')") from None


def normalize(raw: Any, now: float) -> dict[str, Any]:
    """A validated, redacted event dict, or `InvalidEvent` with the field and reason."""
    if type(raw) is not dict and not isinstance(raw, Mapping):  # the exact type first: ABCs are slow
        raise InvalidEvent(f"event must be a JSON object, got {type(raw).__name__}")
    if not _ALLOWED.issuperset(raw):
        unknown = [k for k in raw if k not in _ALLOWED]
        unknown.sort(key=str)
        raise InvalidEvent(f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(map(str, unknown))}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise _fail("type", f"{kind!r} is not one of {', '.join(sorted(EVENT_TYPES))}")
    job_id = _string(raw, "job_id", MAX_ID_CHARS)
    if job_id is None:
        raise _fail("job_id", "is required")
    event: dict[str, Any] = {"job_id": job_id, "type": kind, "at": _timestamp(raw.get("at"), now)}
    for field, value in raw.items():
        if value is None or field in ("job_id", "type", "at"):
            continue
        check = _FIELDS[field]
        event[field] = check(raw, field, kind)
    return event


def _text(limit: int) -> Any:
    return lambda raw, field, kind: _string(raw, field, limit)


def _attempt(raw: Mapping[str, Any], field: str, kind: str) -> int:
    attempt = _count(raw[field], field, MAX_ATTEMPT)
    if attempt < 1:
        raise _fail(field, "must be ≥ 1")
    return attempt


def _capped(limit: int) -> Any:
    def check(raw: Mapping[str, Any], field: str, kind: str) -> Any:
        value = raw[field]
        try:
            if not isinstance(value, int | float | bool):
                value = redact(value)
            text = _compact(value)
        except RecursionError:
            raise _fail(field, "is nested too deeply") from None
        if len(text) > limit:  # ASCII (non-ASCII is escaped), so characters are bytes
            raise _fail(field, f"is {len(text)} bytes of JSON; the limit is {limit}")
        if "\\ud" in text:  # a character beyond U+FFFF, or a lone surrogate, somewhere in it
            value = scrub(value)
        return value

    return check


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate in its text replaced by U+FFFD.

    Python makes such strings from undecodable bytes (file names, subprocess output), so they turn
    up in real arguments and tracebacks; they cannot be encoded as UTF-8, and a stored one would
    break every page and response showing the job. Free text keeps the rest of its characters;
    names and ids are rejected instead (`_text_problem`).
    """
    if isinstance(value, str):
        if value.isascii() or _text_problem(value) is None:
            return value
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    if isinstance(value, Mapping):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _error_field(raw: Mapping[str, Any], field: str, kind: str) -> dict[str, str]:
    if kind not in _END_ERRORS:
        raise _fail("error", f"only failed, retrying and killed events carry one, not {kind}")
    return _error(raw[field])


_FIELDS: dict[str, Any] = {
    "event_id": _text(MAX_ID_CHARS),
    "attempt": _attempt,
    "name": _text(MAX_NAME_CHARS),
    "queue": _text(MAX_NAME_CHARS),
    "batch": _text(MAX_ID_CHARS),
    "worker": _text(MAX_NAME_CHARS),
    "resources": lambda raw, field, kind: _resources(raw[field]),
    "labels": lambda raw, field, kind: _labels(raw[field]),
    "args": _capped(MAX_ARGS_BYTES),
    "result": _capped(MAX_RESULT_BYTES),
    "progress": lambda raw, field, kind: _progress(raw[field]),
    "error": _error_field,
    "keep": lambda raw, field, kind: _keep(raw[field]),
}


def _resources(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise _fail("resources", "must be a list of 'Type:id' strings")
    if len(value) > MAX_RESOURCES:
        raise _fail("resources", f"has {len(value)} entries; the limit is {MAX_RESOURCES}")
    out = []
    for item in value:
        if (not isinstance(item, str) or not _RESOURCE.match(item) or len(item) > MAX_ID_CHARS
                or _text_problem(item)):
            raise _fail("resources", f"{item!r} is not a 'Type:id' string such as 'TaskPlan:42'")
        out.append(item)
    return sorted(set(out))


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise _fail("labels", "must be an object of string values")
    if len(value) > MAX_LABELS:
        raise _fail("labels", f"has {len(value)} keys; the limit is {MAX_LABELS}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key):
            raise _fail("labels", f"key {key!r} must be letters, digits, _ . - (≤ 64)")
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise _fail("labels", f"value of {key!r} must be a string")
        try:
            text = str(item)
        except ValueError:  # an integer beyond Python's int → str digit limit
            raise _fail("labels", f"value of {key!r} is longer than {MAX_NAME_CHARS} characters") from None
        problem = _text_problem(text)
        if problem:
            raise _fail("labels", f"value of {key!r} {problem}")
        if len(text) > MAX_NAME_CHARS:
            raise _fail("labels", f"value of {key!r} is longer than {MAX_NAME_CHARS} characters")
        out[key] = text
    return out


def _progress(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise _fail("progress", "must be an object with done, total, failed, skipped")
    unknown = sorted(set(value) - set(_PROGRESS_KEYS))
    if unknown:
        raise _fail("progress", f"unknown key {unknown[0]!r} (use done, total, failed, skipped)")
    return {k: _count(value[k], f"progress.{k}") for k in _PROGRESS_KEYS if value.get(k) is not None}


def _error(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"message": value}
    if not isinstance(value, Mapping):
        raise _fail("error", "must be an object with type, message, traceback")
    unknown = sorted(set(value) - {"type", "message", "traceback"})
    if unknown:
        raise _fail("error", f"unknown key {unknown[0]!r} (use type, message, traceback)")
    out = {}
    for key, limit in (("type", MAX_NAME_CHARS), ("message", MAX_MESSAGE_CHARS),
                       ("traceback", MAX_TRACEBACK_CHARS)):
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str):
            raise _fail(f"error.{key}", f"must be a string, got {type(item).__name__}")
        out[key] = scrub(item[:limit])
    return out
