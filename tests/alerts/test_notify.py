"""Notifications: a real webhook receiver on loopback gets exactly one notification per firing or
resolved transition, also when its first answer is a 500, also with two evaluators (each with its
own Store object, as two server processes would have) evaluating the same database at once."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import pytest

from alerts.support import MINUTE, Feed, Receiver, T, rule
from jobtrail.alerts import Evaluator, LogNotifier, WebhookNotifier, history, outbox
from jobtrail.store import open_store
from jobtrail.store.base import Store


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def failing(store: Store, feed: Feed, name: str = "pay.charge") -> None:
    """Data on which failure_rate_critical fires at T and resolves at T + 10m."""
    feed.runs(name, [T - 250 + 10 * i for i in range(12)], ok=False)


def test_one_notification_per_transition_as_json_and_in_the_log(
    store: Store, feed: Feed, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    failing(store, feed)
    ev = Evaluator([rule("failure_rate_critical")], [LogNotifier(), WebhookNotifier(receiver.url)])
    with caplog.at_level(logging.INFO, logger="jobtrail.alerts"):
        fired = ev.tick(store, T)
        ev.tick(store, T + 30)  # still firing: nothing new to say
        resolved = ev.tick(store, T + 10 * MINUTE)
    assert [b["status"] for b in receiver.accepted] == ["firing", "resolved"]
    first = receiver.accepted[0]
    assert first["rule"] == "failure_rate_critical" and first["subject"] == "pay.charge"
    assert first["severity"] == "critical" and first["transition_id"] == fired[0].id
    assert receiver.accepted[1]["transition_id"] == resolved[0].id
    assert receiver.headers[0]["idempotency-key"] == f"jobtrail-{fired[0].id}-webhook"
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert ")]
    assert len(logged) == 2
    assert logged[0].startswith("alert firing: ") and '"subject": "pay.charge"' in logged[0]


def test_a_failed_delivery_is_retried_with_backoff_and_arrives_once(store: Store, feed: Feed) -> None:
    receiver = Receiver(fail_first=1)
    try:
        failing(store, feed)
        ev = Evaluator([rule("failure_rate_critical")], [WebhookNotifier(receiver.url)])
        ev.tick(store, T)
        assert (receiver.requests, receiver.accepted) == (1, [])  # answered 500
        assert ev.deliver(store, T + 1) == 0  # the retry is not due yet (5 s backoff)
        assert receiver.requests == 1
        assert ev.deliver(store, T + 6) == 1
        assert ev.deliver(store, T + 600) == 0
        assert receiver.requests == 2
        assert [b["status"] for b in receiver.accepted] == ["firing"]
    finally:
        receiver.close()


def test_a_delivery_that_keeps_failing_gives_up(store: Store, feed: Feed) -> None:
    receiver = Receiver(fail_first=1000)
    try:
        failing(store, feed)
        Evaluator([rule("failure_rate_critical")], notifiers=[WebhookNotifier(receiver.url)]
                  ).evaluate(store, T)
        notifier = WebhookNotifier(receiver.url)
        from jobtrail.alerts.notify import deliver_due

        at = T
        for _ in range(5):
            deliver_due(store, [notifier], at, max_attempts=3)
            at += 3600
        assert receiver.requests == 3
        assert outbox.due(store, at + 86400) == []
    finally:
        receiver.close()


def test_slack_format_is_text_with_markup_escaped(store: Store, feed: Feed, receiver: Receiver) -> None:
    name = "<!channel> & <http://evil|click>"
    failing(store, feed, name)
    Evaluator([rule("failure_rate_critical")], [WebhookNotifier(receiver.url, "slack")]).tick(store, T)
    [body] = receiver.accepted
    assert set(body) == {"text"}
    assert body["text"].startswith("[FIRING critical] failure_rate_critical · &lt;!channel&gt; &amp; ")
    assert "<" not in body["text"] and ">" not in body["text"]


def test_untrusted_names_arrive_exactly_as_json(store: Store, feed: Feed, receiver: Receiver) -> None:
    name = 'q"uote\\back\nline <script>alert(1)</script> ünï'
    failing(store, feed, name)
    Evaluator([rule("failure_rate_critical")], [WebhookNotifier(receiver.url)]).tick(store, T)
    assert [b["subject"] for b in receiver.accepted] == [name]
    assert [t.subject for t in history(store)] == [name]


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_runs_out(
    store: Store, feed: Feed
) -> None:
    failing(store, feed)
    Evaluator([rule("failure_rate_critical")], [LogNotifier()]).evaluate(store, T)
    [d] = outbox.due(store, T)
    assert outbox.claim(store, d.id, "a", T, lease=60)
    assert not outbox.claim(store, d.id, "b", T + 1, lease=60)
    assert outbox.due(store, T + 1) == []
    assert outbox.claim(store, d.id, "b", T + 61, lease=60)  # a died mid-send
    outbox.sent(store, d.id, "b", T + 62)
    assert not outbox.claim(store, d.id, "c", T + 500, lease=60)


def test_two_evaluators_at_once_make_one_transition_and_one_delivery(
    store_url: str, receiver: Receiver
) -> None:
    stores = [open_store(store_url) for _ in range(2)]
    try:
        feed = Feed(stores[0])
        for i in range(6):
            failing(stores[0], feed, f"job.{i}")
        rules = [rule("failure_rate_critical"), rule("failure_rate_warning")]
        instants = [T + 60 * k for k in range(12)]  # fires, warns after 5m, resolves by 11m
        barrier = threading.Barrier(2)
        errors: list[Exception] = []

        def evaluate(store: Store) -> None:
            ev = Evaluator(rules, [WebhookNotifier(receiver.url)])
            try:
                for now in instants:
                    barrier.wait(timeout=30)
                    ev.tick(store, now)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=evaluate, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        transitions = history(stores[0], limit=1000)
        notified = [t for t in transitions if t.to_state in ("firing", "resolved")]
        assert len(notified) == 24  # 6 names × 2 rules, each fires once and resolves once
        keys = [(t.rule, t.subject, t.since, t.to_state) for t in transitions]
        assert len(keys) == len(set(keys))
        received = sorted(json.dumps(b, sort_keys=True) for b in receiver.accepted)
        assert len(received) == len(set(received)) == len(notified)
        assert sorted(b["transition_id"] for b in receiver.accepted) == sorted(t.id for t in notified)
    finally:
        for s in stores:
            s.close()


def test_a_webhook_that_does_not_answer_costs_one_timeout_per_pass_not_one_per_alert(
    store: Store, feed: Feed, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a webhook that accepts connections and never answers, and five alerts firing at once
    import socket

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    connections: list[socket.socket] = []
    accepting = threading.Thread(target=lambda: [connections.append(hung.accept()[0])
                                                 for _ in range(5)], daemon=True)
    accepting.start()
    try:
        for i in range(5):
            failing(store, feed, f"job.{i}")
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/hook"
        ev = Evaluator([rule("failure_rate_critical")],
                       [WebhookNotifier(url, timeout=0.5), LogNotifier()])
        # When one tick evaluates and delivers
        with caplog.at_level(logging.WARNING, logger="jobtrail.alerts"):
            fired = ev.tick(store, T)
        # Expect the webhook tried once (its other deliveries wait for the next pass), every log
        # notification sent, and every webhook delivery still pending
        assert len(fired) == 5
        failures = [r for r in caplog.records if "notification" in r.getMessage()]
        assert len(failures) == 1, [r.getMessage() for r in failures]
        assert len(connections) == 1
        assert sorted(d.channel for d in outbox.due(store, T + 3600)) == ["webhook"] * 5
    finally:
        for c in connections:
            c.close()
        hung.close()


def test_a_resolution_is_never_announced_before_the_firing_it_ends(store: Store, feed: Feed) -> None:
    # Given an alert whose firing notification keeps failing until its retry is due after the
    # alert has resolved
    receiver = Receiver(fail_first=7)
    try:
        failing(store, feed)
        ev = Evaluator([rule("failure_rate_critical")], [WebhookNotifier(receiver.url)])
        ev.tick(store, T)
        at = T
        for attempt in range(1, 7):  # each retry as it falls due, 5, 10, … 160 s after the last
            at += outbox.backoff(attempt) + 0.5
            assert ev.deliver(store, at) == 0
        assert receiver.requests == 7 and at + outbox.backoff(7) > T + 10 * MINUTE
        [resolved] = ev.evaluate(store, T + 10 * MINUTE)
        assert resolved.to_state == "resolved"
        # When the webhook answers again: first while only the resolution is due, then in the
        # passes after the firing's retry is due
        assert ev.deliver(store, T + 10 * MINUTE) == 0
        assert ev.deliver(store, T + 10 * MINUTE + 60) == 1
        assert ev.deliver(store, T + 10 * MINUTE + 90) == 1
        # Expect the firing announced before the resolution, each once
        assert [b["status"] for b in receiver.accepted] == ["firing", "resolved"]
    finally:
        receiver.close()
