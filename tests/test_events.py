"""Event validation: clean events pass normalised; bad ones fail naming the field and the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobtrail.errors import InvalidEvent, InvalidInput
from jobtrail.events import MAX_ARGS_BYTES, MAX_FUTURE_SECONDS, cap_args, normalize, redact

NOW = 1_700_000_000.0


def event(**fields: Any) -> dict[str, Any]:
    return {"job_id": "abc", "type": "queued", "at": NOW - 60} | fields


def reason(raw: Any) -> str:
    with pytest.raises(InvalidEvent) as info:
        normalize(raw, NOW)
    return str(info.value)


def test_a_minimal_event_is_normalised() -> None:
    assert normalize(event(), NOW) == {"job_id": "abc", "type": "queued", "at": NOW - 60}


def test_rfc3339_and_unix_seconds_give_the_same_instant() -> None:
    a = normalize(event(at="2023-11-14T22:13:20Z"), NOW)
    b = normalize(event(at="2023-11-14T23:13:20+01:00"), NOW)
    c = normalize(event(at=1_700_000_000), NOW)
    assert a["at"] == b["at"] == c["at"] == 1_700_000_000.0


def test_every_job_field_passes_through_normalised() -> None:
    clean = normalize(event(
        event_id="e1", attempt=2, name="reports.send", queue="high", batch="req-7",
        resources=["User:42", "Book:1", "User:42"], labels={"tenant": "acme", "n": 3},
        args={"to": "x@example.com"}, worker="w1", progress={"done": 1, "total": 10},
        result={"sent": True}, keep="7d",
    ), NOW)
    assert clean["resources"] == ["Book:1", "User:42"]  # sorted, without repeats
    assert clean["labels"] == {"tenant": "acme", "n": "3"}
    assert clean["keep"] == 7 * 86400.0
    assert clean["attempt"] == 2
    assert clean["event_id"] == "e1"


def test_keep_forever_is_stored_as_minus_one() -> None:
    assert normalize(event(keep="forever"), NOW)["keep"] == -1.0


def test_a_string_error_becomes_its_message() -> None:
    assert normalize(event(type="failed", error="boom"), NOW)["error"] == {"message": "boom"}


def test_a_long_traceback_is_cut_not_rejected() -> None:
    clean = normalize(event(type="failed", error={"traceback": "x" * 100_000}), NOW)
    assert 0 < len(clean["error"]["traceback"]) < 100_000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["not", "an", "object"], "event must be a JSON object, got list"),
        (event(colour="red"), "unknown field: colour"),
        (event(colour="red", size=1), "unknown fields: colour, size"),
        (event(type="exploded"), "type: 'exploded' is not one of"),
        ({"type": "queued", "at": NOW}, "job_id: is required"),
        (event(job_id=42), "job_id: must be a string, got int"),
        (event(job_id="  "), "job_id: must not be empty"),
        (event(job_id="x" * 201), "job_id: is 201 characters; the limit is 200"),
        (event(at=None), "at: is required"),
        (event(at=True), "at: is required"),
        (event(at="yesterday"), "at: 'yesterday' is not RFC 3339 or Unix seconds"),
        (event(at="2023-11-14T22:13:20"), "has no time zone offset"),
        (event(at=[NOW]), "at: must be RFC 3339 text or Unix seconds, got list"),
        (event(at=float("nan")), "at: must be a finite number"),
        (event(at=NOW * 1000), "looks like milliseconds; send seconds"),
        (event(at=86400), "is before the year 2000"),
        (event(at=NOW + 3600), "at: is 3600s in the future (more than 300s of skew)"),
        (event(attempt=0), "attempt: must be ≥ 1"),
        (event(attempt="2"), "attempt: must be a whole number from 0 to 10000"),
        (event(attempt=True), "attempt: must be a whole number from 0 to 10000"),
        (event(attempt=10_001), "attempt: must be a whole number from 0 to 10000"),
        (event(name=["a"]), "name: must be a string, got list"),
        (event(queue=""), "queue: must not be empty"),
        (event(worker="w\x00"), "worker: must not contain NUL characters"),
        (event(resources="Book:1"), "resources: must be a list of 'Type:id' strings"),
        (event(resources=["Book 42"]), "resources: 'Book 42' is not a 'Type:id' string"),
        (event(resources=["Book:"]), "resources: 'Book:' is not a 'Type:id' string"),
        (event(resources=[":42"]), "resources: ':42' is not a 'Type:id' string"),
        (event(resources=[f"Book:{i}" for i in range(65)]), "resources: has 65 entries; the limit is 64"),
        (event(labels=["a"]), "labels: must be an object of string values"),
        (event(labels={"bad key": "x"}), "labels: key 'bad key' must be letters"),
        (event(labels={"k": None}), "labels: value of 'k' must be a string"),
        (event(labels={"k": True}), "labels: value of 'k' must be a string"),
        (event(progress={"done": -1}), "progress.done: must be a whole number from 0 to"),
        (event(progress={"total": 10**13}), "progress.total: must be a whole number from 0 to"),
        (event(progress={"percent": 5}), "progress: unknown key 'percent'"),
        (event(progress=5), "progress: must be an object"),
        (event(type="started", error="boom"), "error: only failed, retrying and killed events carry one"),
        (event(type="failed", error={"code": 1}), "error: unknown key 'code'"),
        (event(type="failed", error={"message": 1}), "error.message: must be a string, got int"),
        (event(type="failed", error=3), "error: must be an object"),
        (event(result="x" * 5000), "result: is 5002 bytes of JSON; the limit is 4096"),
        (event(keep="a while"), "keep: not a duration: 'a while'"),
        (event(at=10**400), "at: is too large to be Unix seconds"),
        (event(keep=10**400), "keep: not a duration: inf"),
        (event(keep="9" * 400 + "w"), "keep: not a duration"),
        (event(labels={"k": 10**5000}), "labels: value of 'k' is longer than 200 characters"),
    ],
)
def test_an_invalid_event_is_rejected_naming_the_field_and_the_reason(raw: Any, expected: str) -> None:
    assert expected in reason(raw)


def test_args_over_16_kb_are_rejected_with_their_size() -> None:
    big = {"blob": "x" * MAX_ARGS_BYTES}
    size = len(json.dumps(big, separators=(",", ":")))
    assert reason(event(args=big)) == f"args: is {size} bytes of JSON; the limit is 16384"


def test_args_just_under_the_cap_are_accepted() -> None:
    args = {"blob": "x" * (MAX_ARGS_BYTES - 20)}
    assert normalize(event(args=args), NOW)["args"] == args


def test_a_timestamp_within_the_allowed_skew_is_accepted() -> None:
    assert normalize(event(at=NOW + MAX_FUTURE_SECONDS - 1), NOW)["at"] == NOW + MAX_FUTURE_SECONDS - 1


def test_invalid_event_is_an_invalid_input() -> None:
    assert issubclass(InvalidEvent, InvalidInput)
    assert issubclass(InvalidEvent, ValueError)


@pytest.mark.parametrize(
    "key", ["password", "PASSWORD", "db_passwd", "token", "refresh_token", "api_key", "apiKey",
            "API-KEY", "authorization", "Authorization", "client_secret", "session_id", "cookie",
            "private_key", "credentials", "auth", "basic_auth", "authHeader", "http-auth", "db_pass",
            "smtpPass", "passwords", "passphrase"],
)
def test_secret_looking_keys_are_redacted(key: str) -> None:
    assert redact({key: "s3cr3t", "user": "ann"}) == {key: "[redacted]", "user": "ann"}


@pytest.mark.parametrize("key", ["author", "author_id", "authority", "coauthors", "keyboard", "passenger"])
def test_keys_that_only_contain_a_secret_word_are_kept(key: str) -> None:
    assert redact({key: "Tolkien"}) == {key: "Tolkien"}


def test_url_passwords_in_args_are_redacted_wherever_the_text_is() -> None:
    # Given a task that takes database and broker URLs, as a kwarg, in a list and as the whole args
    dsn = "postgresql://app:hunter2@db.internal:5432/prod"
    args = {"dsn": dsn, "urls": ["redis://:s3cr3t@cache/0", "https://example.com/a:b@c"],
            "note": "copy from amqp://guest:guest@mq// to s3://bucket/key"}
    # When they are ingested
    clean = normalize(event(args=args), NOW)["args"]
    plain = normalize(event(args=dsn), NOW)["args"]
    # Expect only the passwords gone; hosts, users and URLs without a password unchanged
    assert clean == {"dsn": "postgresql://app:[redacted]@db.internal:5432/prod",
                     "urls": ["redis://:[redacted]@cache/0", "https://example.com/a:b@c"],
                     "note": "copy from amqp://guest:[redacted]@mq// to s3://bucket/key"}
    assert plain == "postgresql://app:[redacted]@db.internal:5432/prod"


def test_secrets_are_redacted_at_any_depth_in_args() -> None:
    args = {"conn": {"host": "db", "password": "pw"}, "calls": [{"headers": {"Authorization": "B x"}}],
            "n": 3}
    clean = normalize(event(args=args), NOW)["args"]
    assert clean == {"conn": {"host": "db", "password": "[redacted]"},
                     "calls": [{"headers": {"Authorization": "[redacted]"}}], "n": 3}
    assert args["conn"]["password"] == "pw"  # the caller's object is left alone


def test_secrets_in_results_are_redacted_too() -> None:
    assert normalize(event(result={"token": "t"}), NOW)["result"] == {"token": "[redacted]"}


def test_cap_args_keeps_small_args_and_marks_big_ones() -> None:
    assert cap_args({"a": (1, 2)}) == {"a": [1, 2]}
    capped = cap_args({"blob": "x" * 100_000})
    assert capped["_truncated"].endswith("bytes")
    assert len(json.dumps(capped)) < MAX_ARGS_BYTES
    normalize(event(args=capped), NOW)  # what the client sends is accepted


def test_cap_args_turns_unserialisable_values_into_text() -> None:
    assert cap_args({"when": object})["when"].startswith("<class")


@pytest.mark.parametrize(
    "fields",
    [{"job_id": "a\ud996"}, {"name": "n\ud996"}, {"labels": {"k": "v\ud996"}},
     {"resources": ["Book:\ud996"]}],
)
def test_text_with_a_lone_surrogate_is_rejected_with_its_field(fields: dict[str, Any]) -> None:
    # A driver cannot encode it, which would otherwise fail the whole batch.
    event = {"job_id": "a", "type": "queued", "at": NOW} | fields
    with pytest.raises(InvalidEvent, match=r"lone surrogate|Type:id"):
        normalize(event, NOW)
