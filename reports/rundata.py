"""Load one run directory into plain numpy arrays and dicts.

A run directory (DESIGN.md, "Run directories") is written alike by simulated runs, live runs and Locust runs,
so nothing here knows which produced it. Loading is the only I/O in the reports package apart from
``write_report``; everything downstream of :class:`RunData` is pure.

``submissions.csv`` can hold a million rows, so it is parsed with ``numpy.loadtxt`` (a C parser) on the
columns the reports use, after turning empty cells into ``nan``; the ``csv`` module is the fallback for
files the fast path cannot read.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reports.errors import NotARunDirectory, RunDataError

__all__ = [
    "KINDS",
    "OUTCOMES",
    "RUN_FILES",
    "RunData",
    "Submissions",
    "Timeseries",
    "duration_s",
    "is_run_dir",
    "load_run",
    "lookup",
]

RUN_FILES = ("scenario.toml", "summary.json", "timeseries.csv", "submissions.csv")
KINDS = ("event", "session", "waitlist", "paid")
OUTCOMES = ("created", "dead_lettered", "rejected", "pending")
OTHER = -1  # code for a kind or outcome this version does not know

TIMESERIES_COLUMNS = (
    "t_s",
    "offered",
    "accepted",
    "rejected",
    "cache_hits",
    "cache_misses",
    "dv_admitted",
    "dv_throttled",
    "dv_throttled_requests",
    "dv_throttled_execution",
    "dv_throttled_concurrency",
    "created",
    "dead_lettered",
    "queue_depth",
    "retrying",
)
SUBMISSION_COLUMNS = ("kind", "offered_s", "accepted_s", "created_s", "attempts", "outcome")


@dataclass(frozen=True)
class Timeseries:
    """One row per bin: ``columns[name]`` is a float array; counts are per bin, ``queue_depth`` and
    ``retrying`` are values at the bin's end. ``t_s`` is each bin's start."""

    bin_s: float
    columns: dict[str, np.ndarray]

    @property
    def t_s(self) -> np.ndarray:
        return self.columns["t_s"]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def rate_per_s(self, name: str) -> np.ndarray:
        """A count column divided by the bin width."""
        return self.columns[name] / self.bin_s

    def __len__(self) -> int:
        return len(self.columns["t_s"])


@dataclass(frozen=True)
class Submissions:
    """One entry per submission. Times are seconds since the run started, ``nan`` where the submission
    never reached that stage; ``kind`` and ``outcome`` are codes into :data:`KINDS` and :data:`OUTCOMES`
    (``-1`` for a value this version does not know)."""

    kind: np.ndarray
    offered_s: np.ndarray
    accepted_s: np.ndarray
    created_s: np.ndarray
    attempts: np.ndarray
    outcome: np.ndarray

    def __len__(self) -> int:
        return len(self.offered_s)

    @property
    def created(self) -> np.ndarray:
        """Mask of submissions whose record was created."""
        return self.outcome == OUTCOMES.index("created")

    def time_to_created_s(self) -> np.ndarray:
        """Seconds from submission to created record, for created submissions only (submission order)."""
        mask = self.created & ~np.isnan(self.created_s)
        return self.created_s[mask] - self.offered_s[mask]

    def count(self, outcome: str) -> int:
        return int(np.count_nonzero(self.outcome == OUTCOMES.index(outcome)))


@dataclass(frozen=True)
class RunData:
    """Everything a report needs from one run directory, already parsed."""

    path: Path
    scenario: dict[str, Any]
    summary: dict[str, Any]
    timeseries: Timeseries
    submissions: Submissions
    scenario_text: str = ""

    @property
    def name(self) -> str:
        """The run directory's name (unique per run, unlike the scenario's name)."""
        return self.path.name

    @property
    def bin_s(self) -> float:
        return self.timeseries.bin_s

    def summary_value(self, dotted: str, default: Any = None) -> Any:
        """``summary_value("time_to_created_s.p95")``; ``default`` when a key is absent or null."""
        return lookup(self.summary, dotted, default)

    def scenario_value(self, dotted: str, default: Any = None) -> Any:
        return lookup(self.scenario, dotted, default)


def lookup(data: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """The value at a dotted key path, or ``default`` when any part is missing or the value is null."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return default if node is None else node


_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def duration_s(value: Any) -> float | None:
    """Seconds in a duration as written in scenario files ("10m", "1h30m", 2.5); None if not a duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in RUN_FILES)


def check_run_dir(path: Path) -> None:
    """Raise :class:`NotARunDirectory` naming the first thing missing."""
    if not path.exists():
        raise NotARunDirectory(path, path, "no such directory")
    if not path.is_dir():
        raise NotARunDirectory(path, path, "it is a file, not a directory")
    for name in RUN_FILES:
        if not (path / name).is_file():
            raise NotARunDirectory(path, path / name)


def load_run(path: str | Path) -> RunData:
    """Read a run directory. Raises NotARunDirectory or RunDataError with the file named."""
    path = Path(path)
    check_run_dir(path)
    scenario_text, scenario = _load_toml(path / "scenario.toml")
    summary = _load_json(path / "summary.json")
    bin_s = _bin_s(summary, scenario)
    timeseries = _load_timeseries(path / "timeseries.csv", bin_s)
    if bin_s is None:
        t_s = timeseries.t_s
        bin_s = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 1.0
        timeseries = Timeseries(bin_s, timeseries.columns)
    submissions = _load_submissions(path / "submissions.csv")
    return RunData(path, scenario, summary, timeseries, submissions, scenario_text)


# --- the files ---------------------------------------------------------------------------------------------


def _load_toml(file: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = file.read_text(encoding="utf-8")
        return text, tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RunDataError(file, f"not valid TOML ({error})") from error


def _load_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunDataError(file, f"not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise RunDataError(file, 'expected a JSON object like {"name": "email-blast", ...}')
    return data


def _bin_s(summary: Mapping[str, Any], scenario: Mapping[str, Any]) -> float | None:
    for value in (summary.get("bin_s"), duration_s(scenario.get("bin"))):
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def _load_timeseries(file: Path, bin_s: float | None) -> Timeseries:
    with file.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise RunDataError(file, "empty; expected a header row starting with t_s")
    header = [name.strip() for name in rows[0]]
    missing = [name for name in TIMESERIES_COLUMNS if name not in header]
    if missing:
        raise RunDataError(file, f"missing column(s) {', '.join(missing)}")
    columns: dict[str, np.ndarray] = {}
    body = [row for row in rows[1:] if row]
    for index, name in enumerate(header):
        try:
            values = [float(row[index]) if index < len(row) and row[index] != "" else math.nan for row in body]
        except ValueError:
            if name in TIMESERIES_COLUMNS:
                raise RunDataError(file, f"column {name} holds a value that is not a number") from None
            continue  # an unknown text column: not ours to read
        columns[name] = np.asarray(values, dtype=float)
    for name in TIMESERIES_COLUMNS:
        if name != "t_s":
            columns[name] = np.nan_to_num(columns[name], nan=0.0)
    return Timeseries(bin_s or 0.0, columns)


def _load_submissions(file: Path) -> Submissions:
    data = file.read_bytes()
    first_line, _, _ = data.partition(b"\n")
    header = [name.strip() for name in first_line.decode("utf-8").strip().split(",")]
    missing = [name for name in SUBMISSION_COLUMNS if name not in header]
    if missing:
        raise RunDataError(file, f"missing column(s) {', '.join(missing)}")
    usecols = [header.index(name) for name in SUBMISSION_COLUMNS]
    try:
        table = _parse_fast(data, usecols)
    except ValueError:
        table = _parse_slow(file, usecols)
    kind, offered_s, accepted_s, created_s, attempts, outcome = table.T
    return Submissions(
        kind=kind.astype(np.int8),
        offered_s=np.ascontiguousarray(offered_s),
        accepted_s=np.ascontiguousarray(accepted_s),
        created_s=np.ascontiguousarray(created_s),
        attempts=np.nan_to_num(attempts, nan=0.0).astype(np.int32),
        outcome=outcome.astype(np.int8),
    )


_KIND_CODE = {name: float(code) for code, name in enumerate(KINDS)}
_OUTCOME_CODE = {name: float(code) for code, name in enumerate(OUTCOMES)}


def _kind_code(text: str) -> float:
    return _KIND_CODE.get(text.strip(), OTHER)


def _outcome_code(text: str) -> float:
    return _OUTCOME_CODE.get(text.strip(), OTHER)


def _parse_fast(data: bytes, usecols: list[int]) -> np.ndarray:
    # loadtxt cannot read empty cells as numbers, so spell them "nan" first (runs of empties need a loop).
    while b",," in data:
        data = data.replace(b",,", b",nan,")
    data = data.replace(b",\r\n", b",nan\r\n").replace(b",\n", b",nan\n")
    if data.endswith(b","):
        data += b"nan"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data" for a run with no submissions
        table = np.loadtxt(
            io.BytesIO(data),
            delimiter=",",
            skiprows=1,
            usecols=usecols,
            converters={usecols[0]: _kind_code, usecols[5]: _outcome_code},
            quotechar='"',
            encoding="utf-8",
            ndmin=2,
            dtype=float,
        )
    return table.reshape(-1, len(usecols))


def _parse_slow(file: Path, usecols: list[int]) -> np.ndarray:
    def number(cell: str, line: int, column: str) -> float:
        if cell.strip() == "":
            return math.nan
        try:
            return float(cell)
        except ValueError:
            raise RunDataError(file, f"line {line}: {column} = {cell!r} is not a number") from None

    rows: list[tuple[float, ...]] = []
    with file.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            cells = [row[i] if i < len(row) else "" for i in usecols]
            rows.append(
                (
                    _kind_code(cells[0]),
                    *(number(cells[i], line, SUBMISSION_COLUMNS[i]) for i in range(1, 5)),
                    _outcome_code(cells[5]),
                )
            )
    return np.asarray(rows, dtype=float).reshape(-1, len(usecols))
