"""Reading and operating through a jobtrail server: what `Trail("http://host:8765")` does instead of
opening a database. HTTP errors map onto jobtrail's own error tree, so code that handles a local
`Trail` handles a remote one the same way.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import quote, urlencode

from jobtrail.client.connection import (
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    NoAnswer,
    Reply,
    ServerConnection,
    ssl_context,
)
from jobtrail.errors import ConfigError, Conflict, InvalidInput, JobtrailError, NotFound, StoreError
from jobtrail.forks import process_flag, reinit_lock
from jobtrail.ingest import IngestResult, Rejection
from jobtrail.model import BatchSummary, Job, JobFilter, Page, Stats
from jobtrail.query import JobQuery, Progress
from jobtrail.store.base import Store

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_REQUEST_BYTES",
    "MAX_REQUEST_EVENTS",
    "RemoteClient",
    "RemoteJobQuery",
    "chunks",
    "encode_event",
    "error_for",
    "is_server_url",
    "open_http",
    "request_headers",
]

MAX_REQUEST_EVENTS = 5_000
"""Events per POST, half the server's default limit of 10,000."""
MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""Body bytes per POST (about), well under the server's default limit of 10 MB."""
PAGE_SIZE = 500  # jobs per request when iterating a query


def is_server_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def request_headers(token: str | None) -> dict[str, str]:
    """What every request to a server carries: JSON, who sends it, the bearer token."""
    from jobtrail import __version__

    headers = {"Accept": "application/json", "User-Agent": f"jobtrail/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def open_http(url: str, token: str | None) -> httpx.Client:
    """An httpx client for the CLI's own requests to a server: bearer token, JSON, connect 2 s /
    read 10 s, the CAs a Trail trusts. (A Trail itself uses `connection`, which loads less.)"""
    import httpx

    timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
    verify: ssl.SSLContext | bool = ssl_context() if url.startswith("https://") else False
    return httpx.Client(base_url=url.rstrip("/"), headers=request_headers(token), timeout=timeout,
                        verify=verify)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def encode_event(event: Any) -> bytes:
    """One event as compact JSON; values JSON cannot hold become text rather than errors."""
    return json.dumps(event, separators=(",", ":"), default=_jsonable).encode()


def chunks(lines: Sequence[bytes], max_events: int = MAX_REQUEST_EVENTS,
           max_bytes: int = MAX_REQUEST_BYTES) -> Iterator[tuple[int, Sequence[bytes]]]:
    """(offset, slice) of encoded events, each slice small enough for one POST."""
    start, size = 0, 0
    for i, line in enumerate(lines):
        if i > start and (i - start >= max_events or size + len(line) > max_bytes):
            yield start, lines[start:i]
            start, size = i, 0
        size += len(line) + 1
    if start < len(lines):
        yield start, lines[start:]


def events_body(lines: Iterable[bytes]) -> bytes:
    return b'{"events":[' + b",".join(lines) + b"]}"


def ingest_result(data: Any, offset: int = 0) -> IngestResult:
    """An `IngestResult` from the server's JSON answer, rejection indexes shifted by `offset`."""
    return IngestResult(
        accepted=int(data.get("accepted", 0)),
        rejected=[Rejection(int(r["index"]) + offset, str(r["error"]))
                  for r in data.get("rejected") or ()],
        control={str(k): dict(v) for k, v in (data.get("control") or {}).items()},
    )


def error_for(response: Reply, url: str) -> JobtrailError:
    """The jobtrail error an HTTP error answer stands for, with the server's own message."""
    try:
        message = str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:200].strip() or response.reason
    status = response.status
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status in (400, 413, 422):
        return InvalidInput(message)
    if status == 401:
        return ConfigError(f"the server at {url} did not accept the token ({message}); "
                           "pass token= or set JOBTRAIL_TOKEN")
    if status == 403:
        return ConfigError(f"the token is not allowed to do this at {url}: {message}")
    return StoreError(f"the server at {url} answered {status}: {message}")


class _NoStore:
    """Stands where a `Store` would be: a remote Trail has none, and says so when one is used."""

    def __init__(self, url: str) -> None:
        self._url = url

    def __getattr__(self, name: str) -> NoReturn:
        raise ConfigError(f"{self._url} is a jobtrail server: its database is reachable only through "
                          "the server (use the database URL on the server for this)")


class RemoteClient:
    """Synchronous calls to one server, for reads and operations in the caller's thread.

    Each call borrows an idle kept-alive connection or opens one (up to `IDLE_CONNECTIONS` are
    kept), so threads never share one. They are separate from the background sender's, and a
    forked child opens its own (on its first call there, see `forks`).
    """

    IDLE_CONNECTIONS = 4

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.no_store = cast(Store, _NoStore(self.url))
        self._init_state()

    def _init_state(self) -> None:
        self._here = process_flag()  # emptied in a forked child: `_borrow()` starts over there
        self._lock = threading.Lock()
        self._idle: list[ServerConnection] = []

    def _forked(self) -> None:
        with reinit_lock():
            if not self._here:
                self._init_state()  # the parent's connections are the parent's: never close them

    def _borrow(self) -> ServerConnection:
        if not self._here:
            self._forked()
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return ServerConnection(self.url, request_headers(self.token))

    def _give_back(self, conn: ServerConnection) -> None:
        with self._lock:
            if self._here and len(self._idle) < self.IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def call(self, method: str, path: str, *, params: Any = None, body: Any = None,
             content: bytes | None = None) -> Any:
        """The decoded JSON answer; an error answer or no answer raises a `JobtrailError`."""
        if params:
            path = f"{path}?{urlencode(params, doseq=True)}"
        if body is not None:
            content = encode_event(body)
        try:
            conn = self._borrow()
        except ValueError as exc:  # a proxy setting it cannot use
            raise StoreError(f"cannot reach {self.url}: {exc}") from None
        try:
            response = conn.request(method, path, content)
        except NoAnswer as exc:
            if exc.timed_out:
                raise StoreError(f"the server at {self.url} did not answer in time ({exc})") from None
            raise StoreError(f"server unreachable at {self.url}: {exc}") from None
        self._give_back(conn)
        if not response.is_success:
            raise error_for(response, self.url)
        try:
            return response.json()
        except ValueError:
            raise StoreError(f"the server at {self.url} answered with something other than JSON") from None

    def close(self) -> None:
        """Close the idle connections (a later call opens new ones)."""
        if not self._here:
            self._forked()
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def ingest(self, events: Iterable[Any]) -> IngestResult:
        """POST events now, in as many requests as the limits need; rejections keep their index."""
        lines: list[bytes] = []
        unencodable: list[Rejection] = []
        positions: list[int] = []
        for i, event in enumerate(events):
            try:
                lines.append(encode_event(event))
                positions.append(i)
            except (TypeError, ValueError) as exc:
                unencodable.append(Rejection(i, f"cannot be encoded as JSON: {exc}"))
        accepted, rejected, control = 0, list(unencodable), {}
        for offset, part in chunks(lines):
            result = ingest_result(self.call("POST", "/api/v1/events", content=events_body(part)))
            accepted += result.accepted
            rejected += [Rejection(positions[offset + r.index], r.error) for r in result.rejected]
            control.update(result.control)
        rejected.sort(key=lambda r: r.index)
        return IngestResult(accepted=accepted, rejected=rejected, control=control)

    def get(self, job_id: str) -> Job:
        return Job.from_dict(self.call("GET", f"/api/v1/jobs/{quote(job_id, safe='')}"))

    def kill(self, job_id: str) -> Job:
        data = self.call("POST", f"/api/v1/jobs/{quote(job_id, safe='')}/kill")
        return Job.from_dict(data["job"])

    def batch(self, batch_id: str) -> BatchSummary:
        return BatchSummary.from_dict(self.call("GET", f"/api/v1/batches/{quote(batch_id, safe='')}"))



def filter_params(flt: JobFilter) -> list[tuple[str, str]]:
    """The filter as the query string of GET /jobs and /stats; relative times were already resolved."""
    if flt.ids:
        raise InvalidInput("a remote query cannot filter by job ids")
    params = [("state", s) for s in flt.states]
    params += [("name", n) for n in flt.names] + [("queue", q) for q in flt.queues]
    params += [("label", f"{k}={v}") for k, v in flt.labels]
    for key in ("batch", "resource"):
        if getattr(flt, key) is not None:
            params.append((key, getattr(flt, key)))
    for key in ("since", "until"):
        if getattr(flt, key) is not None:
            params.append((key, repr(getattr(flt, key))))
    return params


def filter_body(flt: JobFilter) -> dict[str, Any]:
    """The filter as the body of the bulk kill and delete requests."""
    if flt.ids:
        raise InvalidInput("a remote query cannot filter by job ids")
    d = flt.as_dict()
    names = {"states": "state", "names": "name", "queues": "queue"}
    return {names.get(k, k): v for k, v in d.items()}


class RemoteJobQuery(JobQuery):
    """`JobQuery`'s methods answered by the server. Same contract; `store` is not available."""

    def __init__(self, client: RemoteClient, flt: JobFilter) -> None:
        super().__init__(client.no_store, flt)
        self.client = client

    def _stats(self, by: str = "state", exact: bool = False) -> Any:
        params = [*filter_params(self.filter), ("by", by), ("exact", "true" if exact else "false")]
        return self.client.call("GET", "/api/v1/stats", params=params)

    def count(self) -> int:
        return int(self._stats()["count"])

    def counts(self, by: str = "state") -> dict[str, int]:
        if by not in ("state", "name", "queue"):
            raise InvalidInput(f"cannot count by {by!r}: use state, name or queue")
        return {str(k): int(v) for k, v in self._stats(by)["counts"].items()}

    def stats(self, exact: bool = False) -> Stats:
        return Stats.from_dict(self._stats(exact=exact))

    def page(self, limit: int = 50, cursor: str | None = None) -> Page:
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        params = [*filter_params(self.filter), ("limit", str(limit))]
        if cursor:
            params.append(("cursor", cursor))
        data = self.client.call("GET", "/api/v1/jobs", params=params)
        return Page(jobs=tuple(Job.from_dict(j) for j in data["jobs"]), next_cursor=data["next_cursor"])

    def _bulk(self, action: str, dry_run: bool, progress: Progress | None) -> int:
        # An empty filter means every job, as it does locally; the server wants that said explicitly.
        body = {"filter": filter_body(self.filter), "dry_run": dry_run, "all": self.filter == JobFilter()}
        n = int(self.client.call("POST", f"/api/v1/jobs/{action}", body=body)["matched"])
        if progress is not None and not dry_run:
            progress(n)
        return n

    def request_kill(self, dry_run: bool = True, progress: Progress | None = None) -> int:
        return self._bulk("kill", dry_run, progress)

    def delete(self, dry_run: bool = True, progress: Progress | None = None) -> int:
        return self._bulk("delete", dry_run, progress)
