"""Schemathesis drives every operation in the served `/openapi.json` with generated requests, valid
and invalid: no answer may be a 5xx, and every answer must match the schema the app publishes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobtrail.config import Settings

from .conftest import Serve

EVERYTHING = "fuzz-secret"
EXAMPLES = 25  # per operation and generation mode: keeps both backends near a minute on 2 cores
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]


def _seed(url: str) -> None:
    """A few jobs, so lookups by id, batch and filter sometimes find something."""
    now = time.time()
    events: list[dict[str, Any]] = []
    for i in range(5):
        events += [
            {"job_id": str(i), "type": "queued", "at": now - 100 * i, "name": "fuzz.job", "queue": "q",
             "batch": "0", "resources": ["A:0"], "labels": {"a": "0"}},
            {"job_id": str(i), "type": "started", "at": now - 100 * i + 1},
        ]
    events.append({"job_id": "0", "type": "succeeded", "at": now - 1})
    response = httpx.post(f"{url}/api/v1/events", json={"events": events},
                          headers={"Authorization": f"Bearer {EVERYTHING}"})
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error_or_an_off_schema_answer(
    serve: Serve, store_url: str, subtests: pytest.Subtests
) -> None:
    live = serve(store_url, Settings(tokens=(f"ingest+admin:{EVERYTHING}",),
                                     embed_secret=EVERYTHING * 4))
    _seed(live.url)
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    sent: dict[str, list[None]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} {mode.value}"
            with subtests.test(label):
                try:
                    _fuzz(operation, mode, live.url, sent.setdefault(label, []))
                except Unsatisfiable:
                    # Nothing can break the schema here (a path id is any string): valid only for
                    # negative generation, and the totals below keep that honest.
                    assert mode is GenerationMode.NEGATIVE, label

    counts = {label: len(cases) for label, cases in sent.items()}
    positive = {label: n for label, n in counts.items() if label.endswith("positive")}
    assert len(positive) == len(operations) and min(positive.values()) >= 1, counts
    assert sum(counts.values()) - sum(positive.values()) >= 50, counts


def _fuzz(operation: Any, mode: GenerationMode, url: str, sent: list[None]) -> None:
    """Up to EXAMPLES generated requests to one operation, each answer checked."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        sent.append(None)
        case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {EVERYTHING}"},
                               checks=CHECKS)

    run()


def test_the_fuzzer_would_notice_a_server_error(serve: Serve, sqlite_url: str) -> None:
    """The harness itself: a 500 fails `not_a_server_error` (so a green fuzz run means something)."""
    live = serve(sqlite_url, Settings(tokens=(f"ingest+admin:{EVERYTHING}",)))
    live.app.state.store = None  # every store call now raises AttributeError → 500
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    operation = schema["/api/v1/jobs"]["GET"]

    with pytest.raises(BaseExceptionGroup) as caught:
        _fuzz(operation, GenerationMode.POSITIVE, live.url, [])

    assert caught.group_contains(ServerError)
