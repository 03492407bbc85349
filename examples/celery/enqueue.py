"""Publish a mix of tasks to the example app: imports (some fail), digests (retry once), a group,
and one long task to kill from jobtrail."""

from __future__ import annotations

from celery import group
from tasks import import_book, rebuild_reports, send_digest, trail


def main() -> None:
    for book_id in range(1, 15):
        import_book.delay(book_id)
    for user_id in (101, 102):
        send_digest.delay(user_id)
    batch = group(import_book.s(book_id, source="nightly") for book_id in range(20, 26)).apply_async()
    long = rebuild_reports.delay()
    trail.flush()
    print(f"enqueued 23 tasks; group (batch) {batch.id}; long task {long.id}")
    print(f"kill it with: jobtrail kill {long.id}")


if __name__ == "__main__":
    main()
