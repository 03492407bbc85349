"""A small Celery app reporting to jobtrail: the two lines of setup are at the bottom.

Run it with `examples/celery/run.sh` (or `make example-celery`), which starts a jobtrail server, a
Redis-backed worker for this module, and `enqueue.py`.
"""

from __future__ import annotations

import os
import random
import time

from celery import Celery

from jobtrail import Killed, Trail
from jobtrail.integrations import celery as jobtrail_celery

app = Celery("examples", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_default_queue="books", broker_connection_retry_on_startup=True)


@app.task(name="books.import")
def import_book(book_id: int, source: str = "upload") -> int:
    """Recorded with the resource Book:<book_id> (the default rule for *_id arguments)."""
    time.sleep(random.uniform(0.1, 0.5))
    if book_id % 7 == 0:
        raise ValueError(f"book {book_id}: the file is not an EPUB")
    return book_id


@app.task(name="mail.digest", bind=True, max_retries=3,
          resources=lambda user_id, **_: [f"User:{user_id}", "Mailer:smtp"],
          labels={"team": "growth"})
def send_digest(self, user_id: int) -> None:  # type: ignore[no-untyped-def]
    """Fails its first attempt (the mail server is "busy"), then succeeds: recorded as retrying."""
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("SMTP server busy"), countdown=1)
    time.sleep(0.1)


@app.task(name="reports.rebuild")
def rebuild_reports(seconds: float = 120.0) -> None:
    """A long task: kill it with `jobtrail kill <id>`; it also stops itself when asked."""
    end = time.time() + seconds
    while time.time() < end:
        if jobtrail_celery.kill_requested():
            raise Killed("stopped on request")
        time.sleep(0.2)


# The setup: every task published or run by this app is tracked (JOBTRAIL_URL, JOBTRAIL_TOKEN).
trail = Trail()
jobtrail_celery.setup(app, trail)
