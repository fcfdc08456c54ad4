"""A replicated `simulate`'s extra console output: how many replications, what was drawn, and the interval
of each headline figure ("p95 to created 14.6 min ± 0.3 min")."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table

from simulator.units import interval_text, metric_text
from stampede import console

__all__ = ["print_replications"]

SHOWN = (
    ("created", "submissions.created"),
    ("dead-lettered", "submissions.dead_lettered"),
    ("rejected or turned away", "submissions.rejected"),
    ("last created", "last_created_s"),
    ("p95 to created", "time_to_created_s.p95"),
    ("p95 to confirmed", "time_to_confirmed_s.p95"),
    ("p99 to created", "time_to_created_s.p99"),
    ("Dataverse 429s", "dataverse.throttled"),
    ("mean created/s", "throughput.mean_created_per_s"),
    ("cache hit ratio", "cache.hit_ratio"),
    ("attempts", "attempts_per_created"),
)


def print_replications(summary: dict[str, Any], precision_note: str | None = None) -> None:
    block = summary["replications"]
    level = f"{block['confidence']:.0%}"
    table = Table(title=f"{block['n']} replications ({block['sampling']} sampling): mean ± {level} interval "
                        "half-width (Student-t)", title_justify="left", box=box.SIMPLE_HEAD)
    for heading in ("figure", "mean ± half-width", "min", "max"):
        table.add_column(heading, justify="left" if heading == "figure" else "right")
    not_reached = block.get("not_reached", {})
    for label, path in SHOWN:
        entry = block["metrics"].get(path)
        if path in not_reached:  # null in some replication: no mean, no interval
            table.add_row(label, f"not reached in {not_reached[path]} of {block['n']}", "—", "—")
            continue
        if entry is None:
            continue
        half = (entry["ci_high"] - entry["ci_low"]) / 2
        table.add_row(label, interval_text(path, entry["mean"], half), metric_text(path, entry["min"]),
                      metric_text(path, entry["max"]))
    console.out.print(table)
    for key, described in block.get("uncertain", {}).items():
        console.out.print(f"uncertain {key} ~ {described} (each replication's draw: replications.csv)",
                          highlight=False)
    if precision_note:
        console.out.print(precision_note, highlight=False)
