"""Settings: the one place that reads the environment. Everything else takes a `Settings`."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobtrail.durations import parse_duration
from jobtrail.embeds import check_secret
from jobtrail.errors import ConfigError, InvalidInput
from jobtrail.model import RetentionRule
from jobtrail.retention import DEFAULT_RULES, parse_rules

__all__ = ["Settings", "default_url"]


def default_url() -> str:
    """A SQLite file in the user's data directory, so `Trail()` works with no setup."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("jobtrail", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'jobtrail.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. Durations are seconds.

    Environment variables (see `from_env`): JOBTRAIL_URL, JOBTRAIL_TOKEN, JOBTRAIL_RETENTION
    (comma-separated rules such as "succeeded=7d,reports.send=1d"), JOBTRAIL_MINUTE_ROLLUP_DAYS,
    JOBTRAIL_FLUSH_INTERVAL, JOBTRAIL_BATCH_SIZE, JOBTRAIL_BUFFER_SIZE, JOBTRAIL_HEARTBEAT_INTERVAL,
    JOBTRAIL_METRICS_MAX_NAMES;
    for the server JOBTRAIL_TOKENS (comma-separated "scopes:token") and JOBTRAIL_TOKENS_FILE (one
    "scopes:token" per line, # comments), JOBTRAIL_MAX_EVENTS, JOBTRAIL_MAX_BODY_BYTES,
    JOBTRAIL_EMBED_SECRET (or JOBTRAIL_EMBED_SECRET_FILE, a file holding it), JOBTRAIL_SERVER_WORKERS,
    JOBTRAIL_ALLOWED_HOSTS (comma-separated).
    """

    url: str | None = None
    token: str | None = None
    retention: tuple[RetentionRule, ...] = DEFAULT_RULES
    minute_rollup_days: float = 7.0
    flush_interval: float = 0.5
    batch_size: int = 500
    buffer_size: int = 100_000
    heartbeat_interval: float = 30.0
    exit_timeout: float = 5.0
    tokens: tuple[str, ...] = ()
    """Server tokens as "scopes:secret" (scopes joined by +) or "scopes:sha256:<hex>" (hashed)."""
    max_events: int = 10_000
    max_body_bytes: int = 10 * 1024 * 1024
    metrics_max_names: int = 200
    """Job names (and queues) /metrics labels by name; the rest fold into `other`."""
    embed_secret: str | None = field(default=None, repr=False)
    """Key of signed embed links (at least 32 characters); None turns them off. Never shown."""
    server_workers: int = 1
    """Server processes sharing the port (`jobtrail serve --workers` sets it): above 1, a worker
    busy with one sender's batch asks another sender to reconnect, at most four times a second, so
    senders spread over the workers (`web/balance.py`)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names a server without tokens answers besides the loopback ones ("*": any). Without
    tokens, a web page whose name was re-pointed at 127.0.0.1 (DNS rebinding) could otherwise
    read and change everything; `jobtrail serve --insecure` sets "*"."""
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.embed_secret is not None:
            check_secret(self.embed_secret)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            rules: tuple[RetentionRule, ...] = DEFAULT_RULES
            if env.get("JOBTRAIL_RETENTION"):
                rules = parse_rules(r for r in env["JOBTRAIL_RETENTION"].split(",") if r.strip())
            return cls(
                url=env.get("JOBTRAIL_URL") or None,
                token=env.get("JOBTRAIL_TOKEN") or None,
                retention=rules,
                minute_rollup_days=_days("JOBTRAIL_MINUTE_ROLLUP_DAYS", env, 7.0),
                flush_interval=parse_duration(env.get("JOBTRAIL_FLUSH_INTERVAL", "0.5")),
                batch_size=_positive("JOBTRAIL_BATCH_SIZE", env, 500),
                buffer_size=_positive("JOBTRAIL_BUFFER_SIZE", env, 100_000),
                heartbeat_interval=parse_duration(env.get("JOBTRAIL_HEARTBEAT_INTERVAL", "30s")),
                tokens=_tokens(env),
                max_events=_positive("JOBTRAIL_MAX_EVENTS", env, 10_000),
                max_body_bytes=_positive("JOBTRAIL_MAX_BODY_BYTES", env, 10 * 1024 * 1024),
                metrics_max_names=_positive("JOBTRAIL_METRICS_MAX_NAMES", env, 200),
                embed_secret=_embed_secret(env),
                server_workers=_positive("JOBTRAIL_SERVER_WORKERS", env, 1),
                allowed_hosts=tuple(h.strip().lower() for h in
                                    env.get("JOBTRAIL_ALLOWED_HOSTS", "").split(",") if h.strip()),
            )
        except (InvalidInput, ValueError) as exc:
            raise ConfigError(f"invalid jobtrail setting: {exc}") from None

    def resolved_url(self) -> str:
        """The URL to use: the configured one, else the default SQLite file."""
        return self.url or default_url()


def _positive(key: str, env: Mapping[str, str], default: int) -> int:
    value = int(env.get(key, default))
    if value < 1:
        raise ValueError(f"{key} must be at least 1, got {value}")
    return value


def _days(key: str, env: Mapping[str, str], default: float) -> float:
    """A finite day count, 0 or more: NaN would make `sweep` compare against NaN and keep nothing."""
    value = float(env.get(key, default))
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a number of days, 0 or more, got {value}")
    return value


def _tokens(env: Mapping[str, str]) -> tuple[str, ...]:
    specs = [t.strip() for t in env.get("JOBTRAIL_TOKENS", "").split(",") if t.strip()]
    path = env.get("JOBTRAIL_TOKENS_FILE")
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read JOBTRAIL_TOKENS_FILE {path!r}: {exc}") from None
        specs += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return tuple(specs)


def _embed_secret(env: Mapping[str, str]) -> str | None:
    secret = env.get("JOBTRAIL_EMBED_SECRET", "").strip()
    path = env.get("JOBTRAIL_EMBED_SECRET_FILE")
    if path and not secret:
        try:
            secret = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read JOBTRAIL_EMBED_SECRET_FILE {path!r}: {exc}") from None
    return secret or None
