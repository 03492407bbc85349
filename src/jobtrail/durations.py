"""Human durations and times: "7d" ⇄ seconds, seconds → "5d 18h", instants → "3m ago".

Every duration a person reads goes through `format_duration`, so no screen ever shows raw seconds.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from jobtrail.errors import InvalidInput

__all__ = ["format_duration", "format_relative", "parse_duration", "parse_instant"]

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$")


def parse_duration(text: str | float | int) -> float:
    """Seconds in "90s", "1h30m", "7d", "2w" or a plain number of seconds."""
    if isinstance(text, bool):
        raise InvalidInput(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        seconds = _float(text)
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidInput(f"not a duration: {seconds!r}")
        return seconds
    s = str(text).strip().lower()
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        return parse_duration(value)
    if not _WHOLE.match(s):
        raise InvalidInput(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h30m, 7d, 2w)")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(s))
    if not math.isfinite(seconds):
        raise InvalidInput(f"not a duration: {text!r} is too long")
    return seconds


def _float(number: float | int) -> float:
    """`number` as a float; a whole number too large for one becomes infinity, which callers refuse
    (float() would raise OverflowError, escaping every `InvalidInput` handler)."""
    try:
        return float(number)
    except OverflowError:
        return math.inf


def format_duration(seconds: float | None) -> str:
    """Two most significant units: "850ms", "41s", "2m 03s", "3h 05m", "5d 18h"."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    # Compare after rounding, so 0.9996 reads "1.0s" and 9.96 "10s", not "1000ms" and "10.0s".
    if round(s * 1000) < 1000:
        return f"{sign}{round(s * 1000)}ms"
    if round(s, 1) < 10:
        return f"{sign}{s:.1f}s"
    total = round(s)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"


def format_relative(at: float | None, now: float) -> str:
    """ "3m 05s ago" or "in 2h 10m"; "just now" within a second."""
    if at is None:
        return "–"
    delta = now - at
    if abs(delta) < 1:
        return "just now"
    text = format_duration(abs(delta))
    return f"{text} ago" if delta > 0 else f"in {text}"


MAX_UNIX_SECONDS = 1e11
"""About the year 5138: farther instants are mistakes, and the databases' integers cannot hold
some of them."""


def parse_instant(value: str | float | int | datetime, now: float) -> float:
    """Unix seconds from a datetime, RFC 3339 text, Unix seconds, or a span back from now ("7d").

    Naive datetimes are taken as UTC: a job tracker spans hosts, and local time would differ per host.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"not a time: {value!r}")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    if isinstance(value, int | float):
        number = _float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"not a time: {number!r}")
        if abs(number) > MAX_UNIX_SECONDS:
            raise InvalidInput(f"not a time: {value!r} is out of range (Unix seconds up to ±1e11)")
        return number
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return parse_instant(number, now)  # refuses "nan" and "inf" like the numbers themselves
    if _WHOLE.match(text.lower()):
        at = now - parse_duration(text)
        if abs(at) > MAX_UNIX_SECONDS:
            raise InvalidInput(f"not a time: the span {value!r} reaches back too far")
        return at
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"not a time: {value!r} (use RFC 3339, Unix seconds, or a span such as 7d)"
        ) from None
    return parse_instant(parsed, now)
