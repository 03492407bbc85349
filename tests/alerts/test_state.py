"""Alert state lives in the database: a restarted server (new Store, new Evaluator) carries on where
the last one stopped; an older evaluation never overwrites a newer one; a rule that cannot be
evaluated keeps its alerts; a rule switched off resolves them; history pages newest first."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.support import MINUTE, Feed, T, rule, steps
from jobtrail.alerts import Evaluator, LogNotifier, active, history
from jobtrail.alerts.state import prune
from jobtrail.errors import InvalidInput
from jobtrail.store import open_store

DAY = 86400.0


def _failing(feed: Feed) -> None:
    feed.runs("mail.send", [T - 500 + 20 * i for i in range(20)], ok=False)
    feed.runs("mail.send", [T + 10 + 10 * i for i in range(30)], ok=False)


def test_a_restarted_server_carries_on_from_the_database(store_url: str) -> None:
    first = open_store(store_url)
    _failing(Feed(first))
    assert steps(Evaluator([rule("failure_rate_warning")], ()).evaluate(first, T)) == [
        ("mail.send", "inactive", "pending")]
    first.close()
    second = open_store(store_url)
    try:
        fired = Evaluator([rule("failure_rate_warning")], ()).evaluate(second, T + 5 * MINUTE)
        assert steps(fired) == [("mail.send", "pending", "firing")]
        assert fired[0].since == T  # the same episode, not a new pending
    finally:
        second.close()


def test_an_older_evaluation_changes_nothing(store_url: str) -> None:
    store = open_store(store_url)
    try:
        _failing(Feed(store))
        ev = Evaluator([rule("failure_rate_critical")], ())
        assert len(ev.evaluate(store, T)) == 1
        assert ev.evaluate(store, T) == []  # the same instant, e.g. another process
        assert ev.evaluate(store, T + 20 * MINUTE) != []  # resolved
        assert ev.evaluate(store, T + 1) == []  # a slow process with older data: ignored
        assert active(store) == []
    finally:
        store.close()


def test_a_rule_that_fails_keeps_its_alerts_and_a_rule_switched_off_resolves(
    store_url: str
) -> None:
    store = open_store(store_url)
    try:
        _failing(Feed(store))
        critical = rule("failure_rate_critical")
        Evaluator([critical], ()).evaluate(store, T)
        broken = replace(critical, params={})  # its evaluation raises KeyError: logged, skipped
        assert Evaluator([broken], ()).evaluate(store, T + 60) == []
        assert [a.state for a in active(store)] == ["firing"]
        off = replace(critical, enabled=False)
        assert steps(Evaluator([off], ()).evaluate(store, T + 120)) == [
            ("mail.send", "firing", "resolved")]
    finally:
        store.close()


def test_history_pages_newest_first(store_url: str) -> None:
    store = open_store(store_url)
    try:
        feed = Feed(store)
        for n in range(5):
            feed.runs(f"job.{n}", [T - 250 + 10 * i for i in range(12)], ok=False)
        Evaluator([rule("failure_rate_critical")], ()).evaluate(store, T)
        Evaluator([rule("failure_rate_critical")], ()).evaluate(store, T + 20 * MINUTE)
        everything = history(store, limit=100)
        assert [t.to_state for t in everything] == ["resolved"] * 5 + ["firing"] * 5
        pages, cursor = [], None
        while True:
            page = history(store, limit=3, cursor=cursor)
            pages += page
            if len(page) < 3:
                break
            cursor = page[-1].id
        assert pages == everything
        assert [t.subject for t in history(store, subject="job.2")] == ["job.2", "job.2"]
        with pytest.raises(InvalidInput):
            history(store, cursor="-1")
        with pytest.raises(InvalidInput):
            history(store, limit=0)
    finally:
        store.close()


def test_old_history_is_pruned_but_not_what_is_still_to_be_delivered(store_url: str) -> None:
    store = open_store(store_url)
    try:
        feed = Feed(store)
        feed.runs("old.job", [T - 250 + 10 * i for i in range(12)], ok=False)
        ev = Evaluator([rule("failure_rate_critical")], [LogNotifier()], keep=30 * DAY)
        ev.evaluate(store, T)  # fires; its log delivery is still pending
        assert prune(store, T + 1) == 0  # kept: not delivered yet
        assert ev.deliver(store, T + 1) == 1
        assert prune(store, T - 1) == 0  # younger than the cut
        later = T + 40 * DAY
        feed.runs("new.job", [later - 250 + 10 * i for i in range(12)], ok=False)
        ev.tick(store, later)  # resolves old.job, fires new.job, delivers, prunes before later - 30d
        assert sorted((t.subject, t.to_state) for t in history(store)) == [
            ("new.job", "firing"), ("old.job", "resolved")]
    finally:
        store.close()
