"""`jobtrail kill`, `delete`, `sweep`: they change what they say, and nothing without consent."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import Result

from jobtrail import NotFound, Trail

Invoke = Callable[..., Result]
ALL = {"a1", "a2", "b1", "b2", "c1"}


def test_kill_one_job_flags_it_kill_requested(url: str, invoke: Invoke,
                                              state_of: Callable[[str], str]) -> None:
    result = invoke(url, "kill", "b1")

    assert result.exit_code == 0, result.output
    assert "Kill requested for job b1" in result.stdout
    assert state_of("b1") == "kill_requested"
    assert state_of("b2") == "queued"


def test_killing_a_job_twice_keeps_the_first_request(url: str, invoke: Invoke) -> None:
    invoke(url, "kill", "b1")
    with Trail(url) as trail:
        first = trail.get("b1").kill_requested_at

    again = invoke(url, "kill", "b1")

    assert again.exit_code == 0
    assert "already has a kill request" in again.stdout
    with Trail(url) as trail:
        assert trail.get("b1").kill_requested_at == first


def test_kill_unknown_job_exits_2_with_a_clear_message(url: str, invoke: Invoke) -> None:
    result = invoke(url, "kill", "nope")

    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no job 'nope'"


def test_kill_finished_job_exits_2_and_changes_nothing(url: str, invoke: Invoke) -> None:
    result = invoke(url, "kill", "a1")

    assert result.exit_code == 2
    assert "already succeeded" in result.stderr
    with Trail(url) as trail:
        assert trail.get("a1").kill_requested_at is None


def test_kill_with_both_an_id_and_filters_is_refused(url: str, invoke: Invoke,
                                                     state_of: Callable[[str], str]) -> None:
    result = invoke(url, "kill", "b1", "--queue", "imports")

    assert result.exit_code == 2
    assert state_of("b1") == "started"


def test_bulk_kill_with_yes_flags_every_matching_unfinished_job(
    url: str, invoke: Invoke, state_of: Callable[[str], str]
) -> None:
    result = invoke(url, "kill", "--name", "ImportBook", "--yes")

    assert result.exit_code == 0, result.output
    assert "Flagged 2 jobs for killing." in result.stdout
    assert state_of("b1") == state_of("b2") == "kill_requested"
    assert state_of("a1") == "succeeded"


def test_bulk_kill_only_flags_unfinished_jobs(url: str, invoke: Invoke,
                                              state_of: Callable[[str], str]) -> None:
    result = invoke(url, "--json", "kill", "--label", "tenant=acme", "--yes")

    assert json.loads(result.stdout) == {"action": "kill", "dry_run": False, "count": 1}
    assert state_of("b1") == "kill_requested"
    assert state_of("a1") == "succeeded"


def test_bulk_kill_without_yes_asks_and_changes_nothing_on_no(
    url: str, invoke: Invoke, state_of: Callable[[str], str]
) -> None:
    result = invoke(url, "kill", "--queue", "imports", input="n\n")

    assert "Kill 2 jobs? [y/N]" in result.output
    assert result.exit_code == 1
    assert state_of("b1") == "started" and state_of("b2") == "queued"


def test_bulk_kill_without_yes_acts_on_yes(url: str, invoke: Invoke,
                                           state_of: Callable[[str], str]) -> None:
    result = invoke(url, "kill", "--queue", "imports", input="y\n")

    assert result.exit_code == 0, result.output
    assert state_of("b1") == state_of("b2") == "kill_requested"


def test_bulk_kill_without_an_answer_changes_nothing(url: str, invoke: Invoke,
                                                     state_of: Callable[[str], str]) -> None:
    result = invoke(url, "kill", "--queue", "imports", input="")

    assert result.exit_code == 1
    assert "nothing changed" in result.stderr.lower()
    assert state_of("b1") == "started"


def test_bulk_kill_dry_run_counts_and_changes_nothing(url: str, invoke: Invoke,
                                                      state_of: Callable[[str], str]) -> None:
    result = invoke(url, "kill", "--queue", "imports", "--dry-run")

    assert result.exit_code == 0
    assert "Would kill 2 jobs" in result.stdout
    assert state_of("b1") == "started" and state_of("b2") == "queued"


@pytest.mark.parametrize("command", ["kill", "delete"])
def test_bulk_commands_without_a_filter_refuse_unless_all(
    url: str, invoke: Invoke, ids_in: Callable[..., set[str]], command: str
) -> None:
    result = invoke(url, command, "--yes")

    assert result.exit_code == 2
    assert "--all" in result.stderr
    assert ids_in(state="kill_requested") == set()
    assert ids_in() == ALL


def test_delete_all_with_all_flag_removes_every_row(url: str, invoke: Invoke,
                                                    ids_in: Callable[..., set[str]]) -> None:
    result = invoke(url, "delete", "--all", "--yes")

    assert result.exit_code == 0, result.output
    assert "Deleted 5 jobs." in result.stdout
    assert ids_in() == set()


def test_delete_removes_matching_rows_only(url: str, invoke: Invoke,
                                           ids_in: Callable[..., set[str]]) -> None:
    result = invoke(url, "delete", "--state", "failed", "--yes")

    assert result.exit_code == 0, result.output
    assert "Deleted 1 job." in result.stdout
    assert ids_in() == ALL - {"a2"}
    with Trail(url) as trail, pytest.raises(NotFound):
        trail.get("a2")


def test_delete_keeps_statistics(url: str, invoke: Invoke) -> None:
    before = json.loads(invoke(url, "--json", "stats").stdout)

    invoke(url, "delete", "--queue", "mail", "--yes")

    after = json.loads(invoke(url, "--json", "stats").stdout)
    assert after["count"] == before["count"] - 2
    assert after["run"] == before["run"]


def test_delete_dry_run_changes_nothing(url: str, invoke: Invoke,
                                        ids_in: Callable[..., set[str]]) -> None:
    result = invoke(url, "--json", "delete", "--queue", "mail", "--dry-run")

    assert json.loads(result.stdout) == {"action": "delete", "dry_run": True, "count": 2}
    assert ids_in() == ALL


def test_delete_without_yes_asks_and_changes_nothing_on_no(
    url: str, invoke: Invoke, ids_in: Callable[..., set[str]]
) -> None:
    result = invoke(url, "delete", "--queue", "mail", input="n\n")

    assert "Delete 2 jobs? [y/N]" in result.output
    assert result.exit_code == 1
    assert ids_in() == ALL


def test_delete_with_nothing_matching_asks_nothing(url: str, invoke: Invoke) -> None:
    result = invoke(url, "delete", "--name", "nope")

    assert result.exit_code == 0
    assert "No jobs to delete." in result.stdout


def test_sweep_deletes_jobs_past_their_retention(url: str, invoke: Invoke,
                                                 ids_in: Callable[..., set[str]]) -> None:
    env = {"JOBTRAIL_RETENTION": "succeeded=1d"}

    dry = invoke(url, "sweep", "--dry-run", env=env)
    assert dry.exit_code == 0, dry.output
    assert "Would delete 1 job" in dry.stdout
    assert ids_in() == ALL

    result = invoke(url, "--json", "sweep", env=env)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 1
    assert ids_in() == ALL - {"c1"}


def test_sweep_with_default_rules_keeps_recent_jobs(url: str, invoke: Invoke,
                                                    ids_in: Callable[..., set[str]]) -> None:
    result = invoke(url, "sweep")

    assert result.exit_code == 0, result.output
    assert "Deleted 0 jobs" in result.stdout
    assert ids_in() == ALL
