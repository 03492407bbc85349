"""`jobtrail db` migrations and `jobtrail demo`."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from jobtrail import Trail, periodic
from jobtrail.demo_fleet import periodic_runs
from jobtrail.store.sql.migrate import head_revision

Invoke = Callable[..., Result]


def test_db_upgrade_brings_an_empty_database_to_the_newest_revision(
    sqlite_url: str, invoke: Invoke
) -> None:
    before = json.loads(invoke(sqlite_url, "--json", "db", "current").stdout)

    result = invoke(sqlite_url, "db", "upgrade")

    assert before == {"current": None, "head": head_revision(), "up_to_date": False}
    assert result.exit_code == 0, result.output
    assert f"revision: {head_revision()} (up to date)" in result.stdout


def test_db_downgrade_with_yes_reverts_to_base(sqlite_url: str, invoke: Invoke) -> None:
    invoke(sqlite_url, "db", "upgrade")

    result = invoke(sqlite_url, "db", "downgrade", "base", "--yes")

    assert result.exit_code == 0, result.output
    assert json.loads(invoke(sqlite_url, "--json", "db", "current").stdout)["current"] is None


def test_db_downgrade_without_yes_asks_and_keeps_the_schema_on_no(
    sqlite_url: str, invoke: Invoke
) -> None:
    invoke(sqlite_url, "db", "upgrade")

    result = invoke(sqlite_url, "db", "downgrade", input="n\n")

    assert result.exit_code == 1
    assert "may be dropped" in result.output
    assert json.loads(invoke(sqlite_url, "--json", "db", "current").stdout)["up_to_date"]


def test_db_upgrade_to_an_unknown_revision_exits_2(sqlite_url: str, invoke: Invoke) -> None:
    result = invoke(sqlite_url, "db", "upgrade", "nope")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: migration:")


def test_demo_creates_a_database_with_jobs_and_shows_them(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "demo.db"

    result = invoke(None, "demo", "--no-serve", "--path", str(path), "--jobs", "300", "--days", "2")

    assert result.exit_code == 0, result.output
    assert "$ jobtrail stats --by name" in result.stdout
    assert "$ jobtrail jobs --limit 20" in result.stdout
    assert f"sqlite:///{path}" in result.stdout
    with Trail(f"sqlite:///{path}") as trail:
        scheduled = {e["job_id"] for e in periodic_runs(time.time())}
        assert trail.jobs().count() == 300 + len(scheduled)
        assert trail.jobs(state="failed").count() > 0
        assert len(trail.jobs().counts(by="name")) > 5
        # The periodic jobs tell the demo's story: two on schedule, one late, one stopped.
        states = {s.name: s.state for s in periodic.statuses(trail.store)}
        assert states == {"hot_score_refresh": "ok", "trending_score_refresh": "ok",
                          "reputation_tasks": "late", "backups.nightly": "down"}


def test_demo_json_names_the_database(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "demo.db"

    result = invoke(None, "--json", "demo", "--no-serve", "--path", str(path), "--jobs", "50")
    data = json.loads(result.stdout)

    assert data["path"] == str(path) and data["jobs"] == 50
    assert path.exists()


def test_demo_refuses_to_overwrite_an_existing_file(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "mine.db"
    path.write_text("precious")

    result = invoke(None, "demo", "--no-serve", "--path", str(path), "--jobs", "10")

    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert path.read_text() == "precious"


def test_json_after_the_command_works_for_db_and_bulk_commands_too(url: str, invoke: Invoke) -> None:
    # Given a database with history, and commands given --json after their name
    current = invoke(url, "db", "current", "--json")
    deleted = invoke(url, "delete", "--name", "cleanup", "--dry-run", "--json")
    swept = invoke(url, "sweep", "--dry-run", "--json")
    # Expect JSON from each, as with the global --json before the command
    assert current.exit_code == 0, current.output
    assert json.loads(current.stdout) == {"current": head_revision(), "head": head_revision(),
                                          "up_to_date": True}
    assert json.loads(deleted.stdout) == {"action": "delete", "dry_run": True, "count": 1}
    assert swept.exit_code == 0 and isinstance(json.loads(swept.stdout), dict)


def test_a_bulk_delete_declined_without_a_terminal_says_so_on_a_line_of_its_own(
        url: str, invoke: Invoke) -> None:
    # When a bulk delete meets end of input at its question
    result = invoke(url, "delete", "--name", "cleanup", input="")
    # Expect nothing changed, said below the question rather than glued to it
    assert result.exit_code == 1
    assert re.search(r"Delete 1 job\? \[y/N\]: ?\nAborted; nothing changed\.", result.stderr), \
        result.stderr
