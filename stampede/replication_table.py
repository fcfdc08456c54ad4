"""A replicated `simulate`'s extra console output: how many replications, what was drawn, and the interval
of each headline figure ("p95 to created 14.6 min ± 0.3 min")."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from stampede import console

__all__ = ["print_replications"]

SHOWN = (
    ("created", "submissions.created", "count"),
    ("dead-lettered", "submissions.dead_lettered", "count"),
    ("rejected", "submissions.rejected", "count"),
    ("last created", "last_created_s", "duration"),
    ("p95 to created", "time_to_created_s.p95", "duration"),
    ("p99 to created", "time_to_created_s.p99", "duration"),
    ("Dataverse 429s", "dataverse.throttled", "count"),
    ("mean created/s", "throughput.mean_created_per_s", "number"),
    ("cache hit ratio", "cache.hit_ratio", "share"),
    ("attempts", "attempts_per_created", "number"),
)


def _duration(seconds: float, unit_of: float) -> str:
    if unit_of < 120:
        return f"{seconds:.1f} s"
    if unit_of < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _text(kind: str, value: float, unit_of: float) -> str:
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "duration":
        return _duration(value, unit_of)
    if kind == "share":
        return f"{value:.1%}"
    return f"{value:.3g}"


def print_replications(summary: dict[str, Any], precision_note: str | None = None) -> None:
    block = summary["replications"]
    level = f"{block['confidence']:.0%}"
    table = Table(title=f"{block['n']} replications ({block['sampling']} sampling): mean ± {level} interval "
                        "half-width (Student-t)", title_justify="left", box=box.SIMPLE_HEAD)
    for heading in ("figure", "mean ± half-width", "min", "max"):
        table.add_column(heading, justify="left" if heading == "figure" else "right")
    not_reached = block.get("not_reached", {})
    for label, path, kind in SHOWN:
        entry = block["metrics"].get(path)
        if path in not_reached:  # null in some replication: no mean, no interval
            table.add_row(label, f"not reached in {not_reached[path]} of {block['n']}", "—", "—")
            continue
        if entry is None:
            continue
        half = (entry["ci_high"] - entry["ci_low"]) / 2
        mean = entry["mean"]
        table.add_row(label, f"{_text(kind, mean, mean)} ± {_text(kind, half, mean)}",
                      _text(kind, entry["min"], mean), _text(kind, entry["max"], mean))
    console.out.print(table)
    for key, described in block.get("uncertain", {}).items():
        console.out.print(f"uncertain {key} ~ {described} (each replication's draw: replications.csv)",
                          highlight=False)
    if precision_note:
        console.out.print(precision_note, highlight=False)
