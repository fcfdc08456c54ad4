"""The `stampede` command line: thin dispatch to the packages below (no logic of its own)."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from simulator.errors import StampedeError


class _Commands(TyperGroup):
    """Every command, with one catch for a user's mistake: a StampedeError from anywhere below (a scenario, an
    option, a run directory…) is printed as one line and exits 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except StampedeError as exc:
            from stampede import console

            console.fail(str(exc))


app = typer.Typer(
    cls=_Commands,
    name="stampede",
    help="Rehearse event-registration stampedes against the event API and Dataverse limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is text: "[uncertain]" and "[cluster]" are section and extra names, not markup
)


@app.callback()
def _root() -> None:
    """Rehearse event-registration stampedes against the event API and Dataverse limits."""


# Each command lives in its own module so parts can grow independently; the module's name is the command's.
COMMANDS = ("simulate", "compare", "plan", "sensitivity", "report", "serve", "load", "conform")


def _register_commands(only: str | None = None) -> None:
    """Register every command, or only ``only`` when it names one: a run of one command imports that
    command's packages alone (``stampede serve`` need not load scipy.stats, nor ``simulate`` FastAPI), which
    the test suite's many subprocesses and every user's start-up feel. Help without a command lists them all."""
    import importlib

    for name in ([only] if only in COMMANDS else COMMANDS):
        importlib.import_module(f"stampede.{name}_cmd").register(app)


def main() -> None:
    from stampede import interrupt

    interrupt.install()
    _register_commands(sys.argv[1] if len(sys.argv) > 1 else None)
    app()
