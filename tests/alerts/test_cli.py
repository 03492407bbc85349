"""`jobtrail alerts` lists active alerts and history from a database, as a table or JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from alerts.support import Feed, T, only
from jobtrail.cli import app
from jobtrail.store import open_store


def test_alerts_lists_active_alerts_and_history(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    name = "[bold]report[/bold]"
    Feed(store).runs(name, [T - 250 + 10 * i for i in range(12)], ok=False)
    only("failure_rate_critical").evaluate(store, T)
    store.close()
    runner = CliRunner()
    shown = runner.invoke(app, ["--url", sqlite_url, "alerts"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "Active alerts" in shown.output and "History" in shown.output
    assert name in shown.output  # user text is not taken for markup
    assert "failure_rate_critical" in shown.output
    as_json = runner.invoke(app, ["--url", sqlite_url, "alerts", "--json"])
    data = json.loads(as_json.output)
    assert [(a["rule"], a["subject"], a["state"]) for a in data["active"]] == [
        ("failure_rate_critical", name, "firing")]
    assert [(t["from"], t["to"]) for t in data["history"]] == [("inactive", "firing")]
    bad = runner.invoke(app, ["--url", sqlite_url, "alerts", "--cursor", "x"])
    assert bad.exit_code == 2 and "invalid cursor" in bad.output


def test_alerts_with_nothing_to_show(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["--url", sqlite_url, "alerts"])
    assert result.exit_code == 0
    assert "No alerts are firing or pending." in result.output
