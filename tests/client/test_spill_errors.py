"""A spill write that fails (a full disk) loses only its own batch: nothing of it reaches the file
later, so what was spilled before and after replays whole. The failure is a real one: a file size
limit (RLIMIT_FSIZE) makes the kernel cut the write short and then refuse it, in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

resource = pytest.importorskip("resource", reason="file size limits need a POSIX system")

CHILD = r"""
import json, os, resource, signal, sys
from pathlib import Path
from jobtrail.client.spill import Spill

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
spill = Spill(Path(sys.argv[1]), max_bytes=10**6)
before = [b'{"n":%d}' % n for n in range(10)]
assert spill.append(before)
size = sum(len(line) + 1 for line in before)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20, hard))  # room for 20 bytes of the next batch
failed = spill.append([b'{"big":"' + b"x" * 200 + b'"}'])
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # the disk has room again
after = spill.append([b'{"n":"after"}'])
replayed = []
while lines := spill.read(100, 10**6):
    replayed += [line.decode() for line in lines]
    spill.ack()
print(json.dumps({"failed": failed, "after": after, "replayed": replayed, "dropped": spill.dropped,
                  "files": os.listdir(sys.argv[1])}))
"""


def test_a_failed_spill_write_loses_only_its_own_batch(tmp_path: Path) -> None:
    # Given a spill whose second batch hits a file size limit halfway through its write
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, check=True)
    got = json.loads(done.stdout)
    # Expect that batch refused and counted, the next one taken
    assert (got["failed"], got["after"], got["dropped"]) == (False, True, 1)
    # And a replay of exactly the batches before and after it, nothing torn, then no file left
    assert got["replayed"] == [f'{{"n":{n}}}' for n in range(10)] + ['{"n":"after"}']
    assert got["files"] == []
