"""The last lines of a command's output, kept as `jobtrail run`'s error: bounded in memory, colour
codes stripped, and secrets that look like `password=…`, `Authorization: Bearer …` or a URL's
password redacted, because output is untrusted text that ends up in the store and on screens."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from jobtrail.events import REDACTED as _REDACTED
from jobtrail.events import URL_PASSWORD

__all__ = ["MAX_TAIL_CHARS", "OutputTail", "redact_argv", "redact_text"]

MAX_TAIL_CHARS = 8000
"""Characters of output kept as the error (the store caps a traceback at 32 KiB)."""
_KEEP_BYTES = 64 * 1024  # raw bytes held while the command runs
# As jobtrail.events matches a secret key: `pass` and `auth` as words of their own (db_pass,
# basic_auth, authToken), not the start of passenger or author (git's `author=`, `--author`)
_SECRET = (r"(?:pass(?:word|wd|phrase)|(?:pass|auth)(?-i:(?![a-z]))|pwd|secret|token|"
           r"api[-_]?key|access[-_]?key|authori[sz]ation|credentials?|private[-_]?key|cookie|"
           r"session[-_]?id|signature)")
_PATTERNS = (
    # scheme://user:password@host
    (URL_PASSWORD, r"\1" + _REDACTED + "@"),
    # Authorization: Bearer xyz, Basic xyz
    (re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE), r"\1 " + _REDACTED),
    # password=xyz, "api_key": "xyz", TOKEN: xyz
    (re.compile(r"(\b[\w-]*" + _SECRET + r"[\w-]*[\"']?\s*[:=]\s*[\"']?)"
                r"(?!\[redacted\]|(?:bearer|basic)\s)[^\s\"',;&]+",
                re.IGNORECASE), r"\1" + _REDACTED),
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
_SECRET_FLAG = re.compile(r"^--?[\w-]*" + _SECRET + r"[\w-]*$", re.IGNORECASE)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The command line as recorded: `--password x` and `--token=x` lose their values."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(_REDACTED)
            hide_next = False
            continue
        flag, eq, _value = arg.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={_REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(redact_text(arg))
    return out


class OutputTail:
    """Fed raw chunks from several threads (stdout and stderr, in arrival order)."""

    def __init__(self, max_lines: int = 40, max_chars: int = MAX_TAIL_CHARS) -> None:
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._buf = bytearray()
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        with self._lock:
            self._buf += chunk
            if len(self._buf) > 2 * _KEEP_BYTES:
                del self._buf[:-_KEEP_BYTES]

    def text(self) -> str:
        """The last `max_lines` lines (at most `max_chars` characters), cleaned and redacted."""
        with self._lock:
            raw = bytes(self._buf[-_KEEP_BYTES:])
        text = _ANSI.sub("", raw.decode("utf-8", errors="replace")).replace("\r\n", "\n")
        lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]  # progress bars: last frame
        while lines and not lines[-1].strip():
            lines.pop()
        # Redacted before the cap: a cut through a key (`password=` → `word=`) would keep its value
        kept = redact_text("\n".join(lines[-self.max_lines:]))
        if len(kept) > self.max_chars:
            kept = "…" + kept[-(self.max_chars - 1):]
        return kept

    def last_line(self, limit: int = 300) -> str:
        """The last non-empty line, for the error message."""
        lines = self.text().splitlines()
        line = lines[-1].strip() if lines else ""
        return line if len(line) <= limit else line[: limit - 1] + "…"

    @staticmethod
    def line_count(text: str) -> int:
        return text.count("\n") + 1 if text else 0
