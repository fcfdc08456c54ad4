"""The `stampede` command line: thin dispatch to the packages below (no logic of its own)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="stampede",
    help="Rehearse event-registration stampedes against the event API and Dataverse limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Rehearse event-registration stampedes against the event API and Dataverse limits."""


def _register_commands() -> None:
    # Each command lives in its own module so parts can grow independently.
    from stampede import (
        compare_cmd,
        conform_cmd,
        load_cmd,
        plan_cmd,
        report_cmd,
        sensitivity_cmd,
        serve_cmd,
        simulate_cmd,
    )

    for module in (simulate_cmd, compare_cmd, plan_cmd, sensitivity_cmd, report_cmd, serve_cmd, load_cmd, conform_cmd):
        module.register(app)


def main() -> None:
    _register_commands()
    app()
