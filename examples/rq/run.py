"""The RQ example in one command: `python examples/rq/run.py` (Redis on localhost, `pip install
'jobtrail[rq]'`). It enqueues a mix of jobs through the recording queue, runs a tracked `rq worker`
in burst mode until the queue is empty, and prints what jobtrail recorded.

JOBTRAIL_URL (default: `sqlite:///jobtrail-example.db` here) and REDIS_URL (default: database 0
on localhost) choose where; `jobtrail --url sqlite:///jobtrail-example.db serve` shows the result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from redis import Redis
from rq import Retry

from jobtrail import Trail
from jobtrail.integrations.rq import Queue

HERE = Path(__file__).resolve().parent
QUEUE = "jobtrail-example"


def main() -> None:
    url = os.environ.setdefault("JOBTRAIL_URL", f"sqlite:///{Path('jobtrail-example.db').resolve()}")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    trail = Trail(url)
    queue = Queue(QUEUE, connection=Redis.from_url(redis_url), trail=trail)  # records `queued`
    jobs = [
        queue.enqueue("tasks.add", 2, 3),
        queue.enqueue("tasks.import_book", book_id=42, shelf_id=7, meta={"batch": "nightly-import"}),
        queue.enqueue("tasks.import_book", book_id=43, meta={"batch": "nightly-import"}),
        queue.enqueue("tasks.send_report", 9, fail=True),
        queue.enqueue("tasks.flaky", retry=Retry(max=2)),
        queue.enqueue("tasks.long_job", 2),
    ]
    trail.flush()
    # The worker: the second line of setup. It reports through JOBTRAIL_URL.
    subprocess.run([Path(sys.executable).with_name("rq"), "worker", "--burst", "--url", redis_url,
                    "--worker-class", "jobtrail.integrations.rq.Worker", QUEUE],
                   cwd=HERE, check=True)
    print(f"\n{'job':38} {'name':18} {'state':10} {'attempt':>7} {'wait s':>8} {'run s':>8}  batch")
    for job in jobs:
        got = trail.get(job.id)
        wait = f"{got.wait:.3f}" if got.wait is not None else "-"
        run = f"{got.run:.3f}" if got.run is not None else "-"
        print(f"{got.id:38} {got.name or '':18} {got.state:10} {got.attempt:>7} {wait:>8} {run:>8}"
              f"  {got.batch or ''}")
    trail.close()


if __name__ == "__main__":
    main()
