"""The Dramatiq example in one command: `python examples/dramatiq/run.py` (Redis on localhost,
`pip install 'jobtrail[dramatiq]'`). It starts a `dramatiq` worker on `tasks.py` (whose broker has
the jobtrail middleware), sends a mix of messages, waits until jobtrail has seen each one end,
stops the worker and prints what jobtrail recorded.

JOBTRAIL_URL (default: `sqlite:///jobtrail-example.db` here) and DRAMATIQ_REDIS_URL (default:
database 0 on localhost) choose where.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TERMINAL = {"succeeded", "failed", "killed", "cancelled"}


def main() -> None:
    os.environ.setdefault("JOBTRAIL_URL", f"sqlite:///{Path('jobtrail-example.db').resolve()}")
    sys.path.insert(0, str(HERE))
    import tasks  # the broker and its middleware, as every process that sends or works imports it

    worker = subprocess.Popen([Path(sys.executable).with_name("dramatiq"), "tasks", "--processes",
                               "1", "--threads", "2"], cwd=HERE)
    try:
        messages = [
            tasks.add.send(2, 3),
            tasks.import_book.send_with_options(kwargs={"book_id": 42}, batch="nightly-import"),
            tasks.import_book.send_with_options(kwargs={"book_id": 43}, batch="nightly-import"),
            tasks.send_report.send(9, fail=True),
            tasks.flaky.send(),
            tasks.long_job.send(2),
        ]
        trail = tasks.trail
        trail.flush()
        deadline = time.monotonic() + 60
        ids = [m.message_id for m in messages]
        while time.monotonic() < deadline:
            if all(j.state in TERMINAL for j in trail.jobs().page(limit=500).jobs if j.id in ids) \
                    and trail.jobs().count() >= len(ids):
                break
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    print(f"\n{'job':38} {'name':12} {'state':10} {'attempt':>7} {'wait s':>8} {'run s':>8}  batch")
    for job_id in ids:
        got = trail.get(job_id)
        wait = f"{got.wait:.3f}" if got.wait is not None else "-"
        run = f"{got.run:.3f}" if got.run is not None else "-"
        print(f"{got.id:38} {got.name or '':12} {got.state:10} {got.attempt:>7} {wait:>8} {run:>8}"
              f"  {got.batch or ''}")


if __name__ == "__main__":
    main()
