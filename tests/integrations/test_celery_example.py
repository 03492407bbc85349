"""The documented Celery example runs as documented: one command, real Redis, real worker, real
`jobtrail serve`, and jobtrail ends up with the mix it promises."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "celery" / "run.sh"
TIMEOUT = 120.0  # seconds for the whole example


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_celery_example_records_imports_digests_a_group_and_a_killed_task(redis_url: str) -> None:
    # Given the example's one command, on this test's Redis database and a free port
    env = dict(os.environ, CELERY_BROKER_URL=redis_url, JOBTRAIL_PORT=str(_free_port()))
    # When it runs
    proc = subprocess.Popen(["bash", str(EXAMPLE)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    # Expect it to finish, and the listing to show every kind of outcome it set up
    assert proc.returncode == 0, out
    listing = out[out.index("books.import"):]
    rows = [line.split() for line in listing.splitlines() if "│" in line]
    states = {(row[2], row[6]) for row in rows if len(row) > 6}
    assert ("reports.rebuild", "killed") in states, out
    assert ("books.import", "failed") in states and ("books.import", "succeeded") in states, out
    assert ("mail.digest", "succeeded") in states, out
    assert "23 jobs" in out, out
