"""Service times of Dataverse calls, pure: one sampler per distribution, and measured latencies read from a CSV.

A sampler is a function of no arguments returning one service time in seconds; it draws from the generator it
was made with, so a model that makes one draw per call consumes its latency stream in call order.

- ``lognormal`` (the default): from a median and a 99th percentile, σ = ln(p99 / median) / z₀.₉₉.
- ``exponential``: from a mean — memoryless, the service time of the M/M/c validation (docs/validation.md).
- ``empirical``: from the latencies a user measured on their own tenant (a CSV with a column ``ms``), drawn
  from the continuous, piecewise-linear empirical distribution of the sorted sample X₍₁₎ ≤ … ≤ X₍ₙ₎ (Law,
  *Simulation Modeling and Analysis*, 5th ed., §6.2.4): with U uniform on [0, 1), P = (n − 1)·U and i = ⌊P⌋,
  the draw is X₍ᵢ₊₁₎ + (P − i)·(X₍ᵢ₊₂₎ − X₍ᵢ₊₁₎). Every quantile between the smallest and the largest
  measurement is reproduced, with no fitted shape; nothing beyond the largest is ever drawn.

Errors::

    LatencyFileError    a latency CSV that cannot be used; the message names the file, the row and the fix
"""

from __future__ import annotations

import csv
import functools
import math
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.errors import StampedeError

if TYPE_CHECKING:  # the scenario's models; scenario.py imports this module to check latency files at load
    from simulator.scenario import EmpiricalLatency, ExponentialLatency, LognormalLatency

__all__ = ["LatencyFileError", "Z_99", "Sampler", "lognormal", "lognormal_params", "exponential", "empirical",
           "sampler", "read_latency_ms", "COLUMN", "GOOD_FILE"]

Z_99 = 2.3263478740408408  # standard normal quantile at 0.99
COLUMN = "ms"
GOOD_FILE = "a header row ms, then one measured latency in milliseconds per row, e.g. 42.5"

Sampler = Callable[[], float]


class LatencyFileError(StampedeError, ValueError):
    """A latency CSV that cannot be used: missing, without an ``ms`` column, or with a row that is not a
    non-negative number of milliseconds."""


def lognormal_params(median_s: float, p99_s: float) -> tuple[float, float]:
    """(mu, sigma) of the log-normal with this median and 99th percentile (seconds); a zero median is
    (practically) zero, a zero p99 no spread."""
    mu = math.log(median_s) if median_s > 0 else -30.0
    sigma = math.log(p99_s / median_s) / Z_99 if median_s > 0 and p99_s > 0 else 0.0
    return mu, sigma


def lognormal(median_s: float, p99_s: float, rng: random.Random) -> Sampler:
    """Log-normal service times with the given median and 99th percentile (seconds)."""
    mu, sigma = lognormal_params(median_s, p99_s)
    gauss, exp = rng.gauss, math.exp
    return lambda: exp(gauss(mu, sigma))


def exponential(mean_s: float, rng: random.Random) -> Sampler:
    """Exponential service times of mean ``mean_s`` seconds (one uniform per draw)."""
    rate_per_s = 1.0 / mean_s
    expovariate = rng.expovariate
    return lambda: expovariate(rate_per_s)


def empirical(values_s: tuple[float, ...], rng: random.Random) -> Sampler:
    """Service times from the piecewise-linear empirical distribution of ``values_s`` (seconds; any order,
    at least one); one uniform per draw."""
    ordered = sorted(values_s)
    last = len(ordered) - 1
    if last == 0:
        only = ordered[0]
        return lambda: only
    uniform = rng.random

    def draw() -> float:
        position = last * uniform()
        index = int(position)
        low = ordered[index]
        return low + (position - index) * (ordered[index + 1] - low)

    return draw


def sampler(spec: LognormalLatency | ExponentialLatency | EmpiricalLatency, rng: random.Random) -> Sampler:
    """The sampler a scenario's ``dataverse.latency.read`` or ``.write`` describes (an empirical file is read
    here, once per distinct file version)."""
    if spec.dist == "exponential":
        return exponential(spec.mean, rng)
    if spec.dist == "empirical":
        return empirical(tuple(ms / 1000.0 for ms in read_latency_ms(spec.file)), rng)
    return lognormal(spec.median, spec.p99, rng)


def read_latency_ms(path: str | Path) -> tuple[float, ...]:
    """The measured latencies (milliseconds) in the ``ms`` column of the CSV at ``path``; LatencyFileError,
    naming the file and the row, when it cannot be used."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise LatencyFileError(f"{path}: no such file — write {GOOD_FILE}") from None
    except OSError as exc:
        raise LatencyFileError(f"{path}: cannot read ({exc.strerror})") from None
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _read(path: str, _mtime_ns: int, _size: int) -> tuple[float, ...]:
    """The file's latencies, cached by version: each replication of a run builds a model from the same file."""
    values: list[float] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a spreadsheet's byte-order mark
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            if COLUMN not in header:
                shown = ",".join(header) if header else "nothing"
                raise LatencyFileError(f"{path}, row 1: no column {COLUMN} (found {shown}) — write {GOOD_FILE}")
            column = header.index(COLUMN)
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue  # a blank line
                values.append(_milliseconds(row, column, path, reader.line_num))
    except UnicodeDecodeError:
        raise LatencyFileError(f"{path}: not UTF-8 text — write {GOOD_FILE}") from None
    except OSError as exc:
        raise LatencyFileError(f"{path}: cannot read ({exc.strerror})") from None
    if not values:
        raise LatencyFileError(f"{path}: no latencies below the header — write {GOOD_FILE}")
    return tuple(values)


def _milliseconds(row: list[str], column: int, path: str, line: int) -> float:
    text = row[column].strip() if column < len(row) else ""
    try:
        value = float(text)
    except ValueError:
        raise LatencyFileError(f"{path}, row {line}: ms = {text!r} is not a number — write {GOOD_FILE}") from None
    if not math.isfinite(value) or value < 0:
        raise LatencyFileError(f"{path}, row {line}: ms = {text!r} — a latency is a finite number of "
                               f"milliseconds ≥ 0, e.g. 42.5")
    return value
