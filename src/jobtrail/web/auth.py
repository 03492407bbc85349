"""Bearer tokens with scopes. Tokens are kept only as SHA-256 digests and compared in constant time.

A token spec is "scopes:secret" or "scopes:sha256:<hex digest>", scopes joined by "+" from
`ingest` (send events), `read` (GET), `admin` (kill, delete; implies read).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from jobtrail.errors import ConfigError

__all__ = ["SCOPES", "TokenTable", "hash_token"]

SCOPES = frozenset({"ingest", "read", "admin"})
_IMPLIED = {"admin": {"read"}}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    scopes: frozenset[str]


class TokenTable:
    """The configured tokens; empty means the server is open (and then only binds to loopback)."""

    def __init__(self, specs: Iterable[str]) -> None:
        entries = []
        for spec in specs:
            scopes_text, sep, secret = spec.partition(":")
            if not sep or not secret:
                raise ConfigError("a token must look like 'read:SECRET' or 'ingest+read:sha256:HEX'")
            scopes = frozenset(s.strip() for s in scopes_text.split("+") if s.strip())
            unknown = scopes - SCOPES
            if unknown or not scopes:
                raise ConfigError(f"unknown token scope {sorted(unknown)!r}: use ingest, read, admin")
            if secret.startswith("sha256:"):
                digest = secret.removeprefix("sha256:").lower()
                if len(digest) != 64:
                    raise ConfigError("a hashed token needs 64 hex digits after sha256:")
            else:
                digest = hash_token(secret)
            implied = set(scopes)
            for scope in scopes:
                implied |= _IMPLIED.get(scope, set())
            entries.append(_Entry(bytes.fromhex(digest), frozenset(implied)))
        self._entries = tuple(entries)

    @property
    def enabled(self) -> bool:
        return bool(self._entries)

    def scopes(self, token: str) -> frozenset[str] | None:
        """The scopes of `token`, or None when it matches no configured token.

        Every entry is compared (no early exit) so timing does not reveal which one matched.
        """
        presented = hashlib.sha256(token.encode()).digest()
        found: frozenset[str] | None = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.scopes
        return found
