"""Every command's --help shows its help text as written: bracketed names ("[uncertain]", "[cluster]") are
scenario sections and extras, not rich markup to be swallowed."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from stampede import cli

BRACKETED = re.compile(r"\[[a-z][a-z_.]*\]")


@pytest.fixture(scope="module")
def command() -> Any:
    """The click group typer builds (typer vendors its own click)."""
    cli._register_commands()
    return typer.main.get_command(cli.app)


def written_help(cmd: Any) -> str:
    """The help text the source gives the command and each of its parameters."""
    texts = [cmd.help or ""] + [getattr(param, "help", None) or "" for param in cmd.params]
    return " ".join(texts)


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_help_keeps_every_bracketed_name(command: Any, name: str) -> None:
    cmd = command.commands[name]
    shown = CliRunner().invoke(cli.app, [name, "--help"], terminal_width=100)
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.output.split())
    for bracketed in set(BRACKETED.findall(written_help(cmd))):
        assert bracketed in flat, f"{name} --help lost {bracketed}"


def test_the_sections_the_issue_names_are_among_those_checked(command: Any) -> None:
    found = set().union(*(BRACKETED.findall(written_help(c)) for c in command.commands.values()))
    assert {"[uncertain]", "[cluster]"} <= found
