"""Each default rule about job runs fires and resolves on generated data, on both backends.

Given runs ingested with chosen timestamps, when the rule is evaluated at chosen instants, expect
pending → firing once its `for` has passed, and resolved once the condition is gone.
"""

from __future__ import annotations

from alerts.support import Feed, T, only, rule, steps
from jobtrail.alerts import DEFAULT_RULES, Evaluator, active
from jobtrail.store.base import Store

MIN = 60.0


def test_failure_rate_warning_fires_after_its_for_and_resolves(store: Store, feed: Feed) -> None:
    # 20 finished in the last 10 minutes, 4 failed: 20 % > 5 %; also 20 more over the next 5 minutes
    feed.runs("mail.send", [T - 500 + 20 * i for i in range(16)])
    feed.runs("mail.send", [T - 400 + 20 * i for i in range(4)], ok=False)
    feed.runs("mail.send", [T + 10 + 10 * i for i in range(20)], ok=False)
    ev = only("failure_rate_warning")
    assert steps(ev.evaluate(store, T)) == [("mail.send", "inactive", "pending")]
    assert [a.state for a in active(store)] == ["pending"]
    assert ev.evaluate(store, T + 2 * MIN) == []  # still pending: for is 5 minutes
    fired = ev.evaluate(store, T + 5 * MIN)
    assert steps(fired) == [("mail.send", "pending", "firing")]
    assert fired[0].severity == "warning" and fired[0].value is not None and fired[0].value > 0.05
    assert steps(ev.evaluate(store, T + 30 * MIN)) == [("mail.send", "firing", "resolved")]
    assert active(store) == []


def test_failure_rate_below_the_minimum_volume_never_fires(store: Store, feed: Feed) -> None:
    feed.runs("rare.job", [T - 100, T - 90, T - 80], ok=False)  # 100 % of 3 runs
    ev = only("failure_rate_warning")
    assert ev.evaluate(store, T) == []
    assert only("failure_rate_critical").evaluate(store, T + 1) == []


def test_a_healthy_failure_rate_does_not_fire(store: Store, feed: Feed) -> None:
    feed.runs("mail.send", [T - 500 + 10 * i for i in range(40)])
    feed.run("mail.send", T - 50, ok=False)  # 1 of 41: 2.4 %
    assert only("failure_rate_warning").evaluate(store, T) == []


def test_failure_rate_critical_fires_at_once_and_resolves(store: Store, feed: Feed) -> None:
    feed.runs("pay.charge", [T - 250 + 10 * i for i in range(12)], ok=False)
    feed.runs("pay.charge", [T - 200 + 10 * i for i in range(3)])
    ev = only("failure_rate_critical")
    fired = ev.evaluate(store, T)
    assert steps(fired) == [("pay.charge", "inactive", "firing")]  # for: 0
    assert fired[0].severity == "critical"
    assert round(fired[0].value or 0, 3) == 0.8
    # Successes take over: 12 failed of 12 + 30 finished in the 5 minutes before T + 4m
    feed.runs("pay.charge", [T + 5 + 5 * i for i in range(30)])
    assert steps(ev.evaluate(store, T + 4 * MIN)) == [("pay.charge", "firing", "resolved")]


def test_failure_rates_are_per_job_name(store: Store, feed: Feed) -> None:
    feed.runs("bad.job", [T - 200 + 10 * i for i in range(10)], ok=False)
    feed.runs("good.job", [T - 200 + 10 * i for i in range(10)])
    fired = only("failure_rate_critical").evaluate(store, T)
    assert [t.subject for t in fired] == ["bad.job"]


def test_p95_run_time_warning_and_critical(store: Store, feed: Feed) -> None:
    feed.runs("etl.load", [T - 300 + 30 * i for i in range(10)], seconds=400)
    feed.runs("etl.load", [T + 30 * i for i in range(10)], seconds=400)
    feed.runs("etl.huge", [T - 300 + 30 * i for i in range(10)], seconds=700)
    feed.runs("etl.huge", [T + 30 * i for i in range(10)], seconds=700)
    feed.runs("etl.fast", [T - 300 + 30 * i for i in range(10)], seconds=3)
    ev = Evaluator([rule("run_time_p95_warning"), rule("run_time_p95_critical")], notifiers=())
    assert sorted(steps(ev.evaluate(store, T)), key=str) == [
        ("etl.huge", "inactive", "pending"), ("etl.huge", "inactive", "pending"),
        ("etl.load", "inactive", "pending")]
    fired = ev.evaluate(store, T + 5 * MIN)
    assert [(t.rule, t.subject, t.to_state) for t in fired] == [
        ("run_time_p95_critical", "etl.huge", "firing"),
        ("run_time_p95_warning", "etl.huge", "firing"),
        ("run_time_p95_warning", "etl.load", "firing"),
    ]
    assert 693 <= (fired[0].value or 0) <= 707  # the p95, within the histogram's 1 %
    assert {a.severity for a in active(store) if a.subject == "etl.huge"} == {"warning", "critical"}
    resolved = ev.evaluate(store, T + 40 * MIN)
    assert sorted(steps(resolved)) == [("etl.huge", "firing", "resolved"),
                                       ("etl.huge", "firing", "resolved"),
                                       ("etl.load", "firing", "resolved")]


def _history(feed: Feed, name: str, seconds: float) -> None:
    """60 runs over the two days before today (the baseline: whole days before the recent window)."""
    feed.runs(name, [T - 3 * 86400 + 2400 * i for i in range(60)], seconds=seconds)


def test_run_time_long_against_the_names_own_history(store: Store, feed: Feed) -> None:
    _history(feed, "report.build", 10)
    _history(feed, "report.other", 10)
    feed.runs("report.build", [T - 500 + 60 * i for i in range(8)], seconds=60)  # 6× the usual
    feed.runs("report.build", [T + 30 + 50 * i for i in range(12)], seconds=60)
    feed.runs("report.other", [T - 500 + 60 * i for i in range(8)], seconds=11)  # as usual
    ev = only("run_time_long")
    assert steps(ev.evaluate(store, T)) == [("report.build", "inactive", "pending")]
    fired = ev.evaluate(store, T + 10 * MIN)
    assert steps(fired) == [("report.build", "pending", "firing")]
    assert "unusually long" in fired[0].summary
    # Back to normal: 8 usual runs in the window
    feed.runs("report.build", [T + 660 + 60 * i for i in range(8)], seconds=10)
    assert steps(ev.evaluate(store, T + 20 * MIN)) == [("report.build", "firing", "resolved")]


def test_run_time_short_against_the_names_own_history(store: Store, feed: Feed) -> None:
    _history(feed, "sync.all", 100)
    feed.runs("sync.all", [T - 500 + 60 * i for i in range(8)], seconds=2)  # did it do anything?
    feed.runs("sync.all", [T + 30 + 50 * i for i in range(12)], seconds=2)
    ev = only("run_time_short")
    assert steps(ev.evaluate(store, T)) == [("sync.all", "inactive", "pending")]
    fired = ev.evaluate(store, T + 10 * MIN)
    assert steps(fired) == [("sync.all", "pending", "firing")]
    assert "unusually short" in fired[0].summary
    assert steps(ev.evaluate(store, T + 40 * MIN)) == [("sync.all", "firing", "resolved")]


def test_run_time_anomalies_need_enough_history(store: Store, feed: Feed) -> None:
    feed.runs("new.job", [T - 3 * 86400 + 1200 * i for i in range(10)], seconds=10)  # 10 < 50 runs
    feed.runs("new.job", [T - 500 + 60 * i for i in range(8)], seconds=600)
    assert only("run_time_long").evaluate(store, T) == []


def test_item_failure_rate(store: Store, feed: Feed) -> None:
    for i in range(3):
        feed.run("import.rows", T - 300 + i, progress={"done": 100, "total": 100, "failed": 30})
        feed.run("import.rows", T + 60 + i, progress={"done": 100, "total": 100, "failed": 30})
    feed.run("import.ok", T - 300, progress={"done": 100, "total": 100, "failed": 1})
    ev = only("item_failure_rate")
    assert steps(ev.evaluate(store, T)) == [("import.rows", "inactive", "pending")]
    fired = ev.evaluate(store, T + 5 * MIN)
    assert steps(fired) == [("import.rows", "pending", "firing")]
    assert round(fired[0].value or 0, 2) == 0.3
    assert steps(ev.evaluate(store, T + 30 * MIN)) == [("import.rows", "firing", "resolved")]


def test_stalled_jobs(store: Store, feed: Feed) -> None:
    feed.ingest([
        {"job_id": "s1", "type": "started", "at": T - 400, "name": "video.encode"},
        {"job_id": "s1", "type": "lost", "at": T - 100},
    ])
    ev = only("stalled_jobs")
    fired = ev.evaluate(store, T)
    assert steps(fired) == [("video.encode", "inactive", "firing")]
    assert fired[0].value == 1
    assert steps(ev.evaluate(store, T + 20 * MIN)) == [("video.encode", "firing", "resolved")]


def test_every_default_rule_is_quiet_on_healthy_data(store: Store, feed: Feed) -> None:
    feed.runs("ok.job", [T - 3 * 86400 + 2400 * i for i in range(60)], seconds=10)
    feed.runs("ok.job", [T - 500 + 20 * i for i in range(20)], seconds=10)
    ev = Evaluator(DEFAULT_RULES, notifiers=())
    assert ev.findings(store, T) == {r.id: [] for r in DEFAULT_RULES}
    assert rule("failure_rate_warning").for_ == 5 * MIN
