"""Delivery leases against a real database and a real webhook receiver on loopback: a pass slowed
by a slow webhook never lets a second sender (another process) take a delivery it is still sending,
and a sender that lost its lease never overwrites what the sender that took it over recorded."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from alerts.support import Feed, Receiver, T, rule
from jobtrail.alerts import Evaluator, WebhookNotifier, history
from jobtrail.alerts.notify import deliver_due
from jobtrail.alerts.state import engine_of
from jobtrail.store import open_store
from jobtrail.store.base import Store
from jobtrail.store.sql.schema import alert_outbox

# A second sender in its own process, as a second `jobtrail serve` worker: delivery passes with the
# real clock, one every 50 ms, for `seconds`.
SECOND_SENDER = textwrap.dedent("""
    import sys, time
    from jobtrail.alerts import WebhookNotifier
    from jobtrail.alerts.notify import deliver_due
    from jobtrail.store import open_store

    url, hook, lease, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    store = open_store(url)
    print("ready", flush=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        deliver_due(store, [WebhookNotifier(hook)], time.time(), lease=lease)
        time.sleep(0.05)
    store.close()
""")


def firing(store: Store, names: list[str]) -> list[int]:
    """Alerts firing for `names` (one webhook delivery each, due now); their transition ids."""
    feed = Feed(store)
    for name in names:
        feed.runs(name, [T - 250 + 10 * i for i in range(12)], ok=False)
    fired = Evaluator([rule("failure_rate_critical")], [WebhookNotifier("http://127.0.0.1:9/")]
                      ).evaluate(store, T)
    assert len(fired) == len(names)
    return [t.id for t in fired]


def statuses(store: Store) -> list[str]:
    with engine_of(store).connect() as conn:
        return sorted(conn.execute(sa.select(alert_outbox.c.status)).scalars())


def test_a_pass_slowed_by_a_slow_webhook_never_lets_another_process_send_the_same_alert(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    # Given four alerts to deliver, a webhook whose first two answers take 2.5 s each (within the
    # webhook's 10 s timeout), and a 3 s lease: longer than any one send, shorter than the pass
    ids = firing(store, [f"job.{i}" for i in range(4)])
    receiver = Receiver(delays=[2.5, 2.5])
    lease = 3.0
    try:
        # When one sender's pass is sending the second alert (2.5 s into the pass) and a second
        # process starts delivering too
        first = threading.Thread(target=deliver_due, args=(
            store, [WebhookNotifier(receiver.url)], time.time()), kwargs={"lease": lease})
        first.start()
        receiver.wait_for_requests(2)
        script = tmp_path / "second_sender.py"
        script.write_text(SECOND_SENDER)
        with subprocess.Popen([sys.executable, str(script), store_url, receiver.url, str(lease),
                               "4"], stdout=subprocess.PIPE, text=True) as second:
            try:
                assert second.stdout is not None and second.stdout.readline() == "ready\n"
                first.join(30)
                assert second.wait(30) == 0
            finally:
                if second.poll() is None:
                    second.kill()
        deliver_due(store, [WebhookNotifier(receiver.url)], time.time(), lease=lease)  # leftovers
        # Expect each alert to have arrived exactly once, and every delivery marked sent
        assert not first.is_alive()
        assert sorted(b["transition_id"] for b in receiver.accepted) == sorted(ids)
        assert statuses(store) == ["sent"] * 4
    finally:
        receiver.close()


def test_a_sender_that_lost_its_lease_does_not_undo_the_delivery_of_the_sender_that_took_it(
    store_url: str, store: Store
) -> None:
    # Given one alert, a webhook whose first answer is a 500 after 2 s, and a 1 s lease; two
    # schedulers in one process (or two hosts' processes of the same hostname and pid, as two
    # containers on the host's network running jobtrail as pid 1)
    [tid] = firing(store, ["job.0"])
    receiver = Receiver(fail_first=1, delays=[2.0])
    other = open_store(store_url)
    try:
        # When the first sender's send outlives its lease, the second takes the delivery over and
        # sends it, then the first hears its 500
        first = threading.Thread(target=deliver_due, args=(
            store, [WebhookNotifier(receiver.url)], time.time()), kwargs={"lease": 1.0})
        first.start()
        receiver.wait_for_requests(1)
        sent = 0
        deadline = time.monotonic() + 10
        while sent == 0 and time.monotonic() < deadline:
            sent = deliver_due(other, [WebhookNotifier(receiver.url)], time.time(), lease=1.0)
            time.sleep(0.05)
        first.join(30)
        # Expect the delivery to stay sent (the 500 was heard by a sender no longer holding it), so
        # no later pass sends it a third time
        assert sent == 1 and not first.is_alive()
        assert statuses(store) == ["sent"]
        assert deliver_due(store, [WebhookNotifier(receiver.url)], time.time() + 3600) == 0
        assert receiver.requests == 2
        assert [b["transition_id"] for b in receiver.accepted] == [tid]
        assert [t.id for t in history(store) if t.to_state == "firing"] == [tid]
    finally:
        other.close()
        receiver.close()
