"""Errors raised while reading run directories or building reports.

Errors::

    ReportError             base; the message names the run directory and what is wrong with it
    ├── NotARunDirectory    a path is missing, not a directory, or lacks one of the run files
    └── RunDataError        a run file is there but cannot be read (bad CSV, JSON or TOML, missing column)
"""

from __future__ import annotations

from pathlib import Path

from simulator.errors import StampedeError

__all__ = ["ReportError", "NotARunDirectory", "RunDataError"]


class ReportError(StampedeError):
    """Base of every error the reports package raises."""


class NotARunDirectory(ReportError):
    """``path`` is not a run directory; ``missing`` is the file (or directory) that should be there."""

    def __init__(self, path: Path, missing: Path, detail: str = "") -> None:
        self.path = path
        self.missing = missing
        what = detail or f"missing {missing.name}"
        super().__init__(
            f"{path}: not a run directory ({what}); a run directory holds scenario.toml, summary.json, "
            "timeseries.csv and submissions.csv, e.g. runs/email-blast-20250101T090000/"
        )


class RunDataError(ReportError):
    """A run file exists but its content cannot be used; ``file`` names it."""

    def __init__(self, file: Path, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")
