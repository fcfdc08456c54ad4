"""``--out DIR`` checked before any work starts, so a bad directory costs nothing and writes nothing.

Refused, each with one line: a path that is a file (``--out README.md``); a place where no directory can be
made (``--out /proc/x``, a read-only mount); and a directory that already holds a run — its files would be
overwritten — unless ``--force``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from simulator.errors import StampedeError

__all__ = ["RUN_MARKERS", "OutDirError", "check_out_dir", "make_out_dir"]

RUN_MARKERS = ("summary.json", "scenario.toml", "timeseries.csv", "submissions.csv", "report.html")
"""Files that mark a directory as a run (or a comparison report) already."""


class OutDirError(StampedeError, ValueError):
    """The --out directory cannot be used; the message is one line for the user."""


def _held_run(path: Path, nested: bool, markers: tuple[str, ...]) -> Path | None:
    for marker in markers:
        if (path / marker).exists():
            return path / marker
    if nested:  # a comparison's directory holds one run directory per variant
        for child in sorted(path.iterdir()):
            if child.is_dir() and (found := _held_run(child, False, markers)) is not None:
                return found
    return None


def _interrupted(marker: Path) -> bool:
    """Whether the run that ``marker`` belongs to says it was interrupted (its summary.json)."""
    try:
        return json.loads((marker.parent / "summary.json").read_text(encoding="utf-8")).get("interrupted") is True
    except (OSError, ValueError, AttributeError):
        return False


def _probe(folder: Path, path: Path, option: str) -> None:
    """Make and remove an empty directory in ``folder``: the one way to know a directory can be made there
    (permissions, read-only mounts, /proc) without leaving anything behind."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".stampede-probe-", dir=folder))
    except OSError as exc:
        raise OutDirError(f"{option} {path}: cannot write in {folder} ({exc.strerror}); name a directory you can "
                          "write, e.g. --out runs/my-run") from None


def check_out_dir(path: Path | None, *, force: bool = False, option: str = "--out", nested: bool = False,
                  markers: tuple[str, ...] = RUN_MARKERS) -> None:
    """Raise ``OutDirError`` if ``path`` cannot become the run directory; ``nested``: also look for runs one
    level down (a comparison's variants); ``markers``: the files that make a directory a run. Writes nothing."""
    if path is None:
        return
    if path.exists() and not path.is_dir():
        raise OutDirError(f"{option} {path}: is a file, not a directory; name a new directory, e.g. --out runs/my-run")
    if path.is_dir():
        held = _held_run(path, nested, markers)
        if held is not None and not force and _interrupted(held):
            raise OutDirError(f"{option} {path}: interrupted run; use --force to overwrite it "
                              f"({held.relative_to(path)}), or name a new directory")
        if held is not None and not force:
            raise OutDirError(f"{option} {path}: already holds a run ({held.relative_to(path)}); add --force to "
                              "overwrite it, or name a new directory")
        _probe(path, path, option)
        return
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutDirError(f"{option} {path}: {ancestor} is a file, not a directory; name a new directory, "
                          "e.g. --out runs/my-run")
    _probe(ancestor, path, option)


def make_out_dir(path: Path, option: str = "--out") -> Path:
    """Create ``path`` (and its parents); ``OutDirError`` with the reason if the system refuses."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutDirError(f"{option} {path}: cannot create it ({exc.strerror}); name a directory you can write, "
                          "e.g. --out runs/my-run") from None
    return path
