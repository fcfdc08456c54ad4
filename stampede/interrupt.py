"""Ctrl-C as a normal path: the first one stops the work and leaves partial results marked, the second exits.

The first SIGINT raises ``KeyboardInterrupt`` as Python always does (the engine stops its pool or cancels its
Dask tasks at once and hands back what finished: ``simulator.engine.replicate.Interrupted``); from then on a
second SIGINT ends the process at once, whatever the first one's clean-up is doing. A command that catches the
interrupt writes what finished, marks it (``"interrupted": true`` in summary.json), says so in one line and
exits 130, the shell's code for a process ended by SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import FrameType
from typing import NoReturn

__all__ = ["EXIT_CODE", "install", "mark", "stop"]

EXIT_CODE = 130  # 128 + SIGINT


def _second(signum: int, frame: FrameType | None) -> None:
    os._exit(EXIT_CODE)  # the user asked twice: no clean-up, no traceback


def _first(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, _second)
    raise KeyboardInterrupt


def install() -> None:
    """Make the next SIGINT the first of two (see the module docstring); called once by ``stampede``'s main."""
    signal.signal(signal.SIGINT, _first)


def mark(run_dir: Path) -> None:
    """Add ``"interrupted": true`` to the run directory's summary.json (if the run got as far as writing one)."""
    path = run_dir / "summary.json"
    if path.is_file():
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary["interrupted"] = True
        path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def stop(what: str) -> NoReturn:
    """Say what the interrupt left, in one line, and exit 130."""
    from stampede import console

    console.err.print(f"interrupted: {what}", highlight=False, markup=False, soft_wrap=True)
    raise SystemExit(EXIT_CODE)
