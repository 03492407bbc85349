"""`jobtrail export prometheus-rules|grafana`: monitoring configuration over jobtrail's /metrics.

Neither reads the database: the rules judge periodic jobs through the deadline gauges `/metrics`
serves per declared job, so a declaration added later needs no new export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobtrail.errors import InvalidInput
from jobtrail.exports import grafana, prometheus_rules

from .context import guard

__all__ = ["app"]

app = typer.Typer(
    help="Write Prometheus alerting rules or a Grafana dashboard for jobtrail's /metrics.",
    no_args_is_help=True,
    add_completion=False,
)

Output = Annotated[Path | None, typer.Option(
    "--output", "-o", dir_okay=False, help="Write to FILE instead of stdout.")]


def _write(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror}") from None
    typer.echo(f"wrote {output}", err=True)


@app.command("prometheus-rules")
@guard
def prometheus_rules_command(output: Output = None) -> None:
    """Prometheus alerting rules (YAML) for the default alerts.

    Failure rate over 5 % in 10 min / 50 % in 5 min, periodic jobs late or down by their own
    schedule, p95 run time over 300 / 600 s, queue over 1,000 or growing, jobs waiting over an
    hour, item failure rate over 20 %, workers lost or idle with a backlog, stalled jobs, jobtrail
    unhealthy.
    """
    _write(prometheus_rules.to_yaml(), output)


@app.command("grafana")
@guard
def grafana_command(output: Output = None) -> None:
    """A Grafana dashboard (JSON, uid jobtrail-jobs): ten panels over jobtrail's metrics."""
    _write(grafana.to_json(), output)
