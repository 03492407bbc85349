"""Signed embed links: a URL that lets whoever holds it read one chart, with exactly its parameters,
until it expires (as Metabase's signed embedding does). It is what a page on another site frames,
since the dashboard's SameSite=Strict login cookie never reaches a cross-site iframe.

The signature is HMAC-SHA256, keyed by `JOBTRAIL_EMBED_SECRET`, over a canonical form of the chart's
path and every query parameter but `signature` itself, `expires` (Unix seconds) included: each pair
percent-encoded, then the pairs sorted. Reordering the query keeps a link valid; changing the chart,
adding, dropping or altering any parameter, or moving the expiry does not. Pure: stdlib only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from jobtrail.durations import parse_duration
from jobtrail.errors import ConfigError, InvalidInput, JobtrailError

__all__ = [
    "CHART_PARAMS",
    "EXPIRES",
    "MAX_EXPIRES_SECONDS",
    "MIN_SECRET_CHARS",
    "SIGNATURE",
    "EmbedDenied",
    "check_params",
    "check_secret",
    "expiry_of",
    "sign",
    "signed_embed_url",
    "verify",
]

SIGNATURE = "signature"
EXPIRES = "expires"
MIN_SECRET_CHARS = 32
MAX_EXPIRES_SECONDS = 366 * 86400
"""A link lives at most a year: one that leaks cannot be revoked short of changing the secret."""
_CONTEXT = b"jobtrail-embed-v1"  # so this secret's MACs can never be replayed as another message kind

CHART_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # chart: (accepted query parameters, required ones); the same charts as web/pages/charts.py.
    "throughput": (frozenset({"range", "name"}), frozenset()),
    "failure-rate": (frozenset({"range", "name"}), frozenset()),
    "load": (frozenset({"range", "name"}), frozenset()),
    "run-compare": (frozenset({"job"}), frozenset({"job"})),
    "busy": (frozenset({"job"}), frozenset({"job"})),
    "gantt": (frozenset({"batch", "highlight"}), frozenset({"batch"})),
    "duration-trend": (frozenset({"name", "range"}), frozenset({"name"})),
    "wait": (frozenset({"name", "range"}), frozenset({"name"})),
    "heatmap": (frozenset({"name", "range"}), frozenset({"name"})),
}


class EmbedDenied(JobtrailError):
    """A signed link that grants nothing: bad, incomplete or expired. The message says which."""


def check_secret(secret: str) -> str:
    """`secret` if it is long enough to key HMAC-SHA256 safely; never echoes it back."""
    if len(secret) < MIN_SECRET_CHARS:
        raise ConfigError(f"JOBTRAIL_EMBED_SECRET must be at least {MIN_SECRET_CHARS} characters "
                          f"(it has {len(secret)}); make one with `python -c \"import secrets; "
                          "print(secrets.token_urlsafe(32))\"`")
    return secret


def check_params(chart: str, params: Mapping[str, str]) -> dict[str, str]:
    """The chart's parameters without blanks, or InvalidInput naming the unknown or missing one."""
    if chart not in CHART_PARAMS:
        raise InvalidInput(f"no chart {chart!r}; charts are {', '.join(sorted(CHART_PARAMS))}")
    accepted, required = CHART_PARAMS[chart]
    clean = {k: str(v) for k, v in params.items() if v not in (None, "")}
    unknown = sorted(set(clean) - accepted)
    if unknown:
        raise InvalidInput(f"chart {chart!r} takes no parameter {unknown[0]!r}; it takes "
                           f"{', '.join(sorted(accepted))}")
    missing = sorted(required - set(clean))
    if missing:
        raise InvalidInput(f"chart {chart!r} needs the parameter {missing[0]!r}")
    if "range" in clean:
        span = parse_duration(clean["range"])
        if not 60 <= span <= 366 * 86400:
            raise InvalidInput("range must be between 1m and 366d")
    return clean


def _canonical(chart: str, pairs: Iterable[tuple[str, str]]) -> bytes:
    path = "/embed/" + quote(chart, safe="")
    query = "&".join(sorted(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs))
    return b"\n".join((_CONTEXT, path.encode(), query.encode()))


def sign(chart: str, pairs: Iterable[tuple[str, str]], secret: str) -> str:
    """The signature of `chart` with these query pairs (`expires` among them), URL-safe base64."""
    mac = hmac.new(secret.encode(), _canonical(chart, pairs), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def signed_embed_url(base_url: str, chart: str, params: Mapping[str, str], secret: str,
                     expires_in: float | str = 86400, *, now: float | None = None) -> str:
    """A link to `/embed/<chart>` on the server at `base_url` (with any mount prefix) that shows
    this chart with these parameters to anyone, without a login, for `expires_in` (seconds or a
    span such as "30d", at most 366d)."""
    check_secret(secret)
    clean = check_params(chart, params)
    seconds = parse_duration(expires_in) if isinstance(expires_in, str) else float(expires_in)
    if not 0 < seconds <= MAX_EXPIRES_SECONDS:
        raise InvalidInput("a link lives more than 0s and at most 366d (expires_in, --expires)")
    expires = math.ceil((time.time() if now is None else now) + seconds)
    pairs = [*sorted(clean.items()), (EXPIRES, str(expires))]
    pairs.append((SIGNATURE, sign(chart, pairs, secret)))
    return f"{base_url.rstrip('/')}/embed/{quote(chart, safe='')}?{urlencode(pairs)}"


def expiry_of(url: str) -> int:
    """The `expires` (Unix seconds) of a link that `signed_embed_url` made."""
    return int(dict(parse_qsl(urlsplit(url).query))[EXPIRES])


def verify(chart: str, pairs: Iterable[tuple[str, str]], secret: str,
           now: float | None = None) -> int:
    """The link's expiry if `pairs` (the whole query) carry a valid, unexpired signature for
    `chart`; else EmbedDenied. The signature is checked first, in constant time, so a forged
    expiry is reported as a bad signature."""
    items = list(pairs)
    given = [v for k, v in items if k == SIGNATURE]
    rest = [(k, v) for k, v in items if k != SIGNATURE]
    if len(given) != 1:
        raise EmbedDenied("a signed embed link needs exactly one signature parameter")
    expected = sign(chart, rest, secret)
    if not hmac.compare_digest(expected.encode(), given[0].encode("utf-8", "replace")):
        raise EmbedDenied("the embed link's signature does not match: the link was changed, or "
                          "signed with another secret")
    expiries = [v for k, v in rest if k == EXPIRES]
    if len(expiries) != 1 or not (expiries[0].isascii() and expiries[0].isdigit()):
        raise EmbedDenied("a signed embed link needs one expires=<Unix seconds> parameter")
    expires = int(expiries[0])
    if expires <= (time.time() if now is None else now):
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires))
        raise EmbedDenied(f"this embed link expired at {stamp}; ask for a new one")
    return expires
