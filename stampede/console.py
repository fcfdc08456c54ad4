"""Terminal and file edges shared by the commands: progress bars, errors, run directories, summary tables."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise SystemExit(code)


@contextlib.contextmanager
def progress(label: str, enabled: bool = True) -> Iterator[Callable[[float, float], None]]:
    """A progress bar over simulated time; yields ``advance(done_s, total_s)``."""
    if not enabled or not err.is_terminal:
        yield lambda done_s, total_s: None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[sim]}"),
                   TimeElapsedColumn(), console=err, transient=True)
    with bar:
        task = bar.add_task(label, total=1.0, sim="")

        def advance(done_s: float, total_s: float) -> None:
            bar.update(task, completed=done_s / total_s if total_s else 1.0,
                       sim=f"{done_s / 3600:.2f} h simulated")

        yield advance


def run_directory(out_dir: Path | None, name: str) -> Path:
    """``out_dir`` (created if absent), else ``runs/<name>-<UTC yyyymmddThhmmss>/`` made unique."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        return out_dir
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base = Path("runs") / f"{name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def write_files(run_dir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (run_dir / name).write_text(text, encoding="utf-8")


def write_report(run_dir: Path) -> Path | None:
    try:
        import reports
    except ImportError:  # reports is an optional layer for the simulator itself
        return None
    return reports.write_report([run_dir])


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def print_summary(summary: dict[str, Any], run_dir: Path) -> None:
    subs = summary["submissions"]
    dv = summary["dataverse"]
    ttc = summary["time_to_created_s"]
    cap = summary["capacity"]
    table = Table(title=f"{summary['name']} — {summary['mode']} run, seed {summary['seed']}", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("submissions", f"{subs['offered']:,} offered · {subs['accepted']:,} accepted · "
                  f"{subs['rejected']:,} rejected")
    table.add_row("outcome", f"{subs['created']:,} created · {subs['dead_lettered']:,} dead-lettered · "
                  f"{subs['pending']:,} pending")
    table.add_row("last created", f"{_fmt_s(summary.get('last_created_s'))} after the first arrival "
                  f"(drain {_fmt_s(summary['throughput']['drain_s'])} after the last)")
    table.add_row("time to created", f"p50 {_fmt_s(ttc['p50'])} · p95 {_fmt_s(ttc['p95'])} · "
                  f"p99 {_fmt_s(ttc['p99'])} · max {_fmt_s(ttc['max'])}")
    by = dv["throttled_by"]
    table.add_row("Dataverse 429s", f"{dv['throttled']:,} of {dv['admitted'] + dv['throttled']:,} calls "
                  f"(requests {by['requests']:,} · execution {by['execution']:,} · concurrency "
                  f"{by['concurrency']:,}); binding limit: {dv['binding_limit']}")
    if dv.get("failed"):
        table.add_row("Dataverse 503s", f"{dv['failed']:,} (outage)")
    table.add_row("cache", f"hit ratio {summary['cache']['hit_ratio']:.1%} "
                  f"({summary['cache']['hits']:,} hits, {summary['cache']['misses']:,} misses)")
    table.add_row("throughput", f"peak {summary['throughput']['peak_created_per_s']:.1f}/s · mean "
                  f"{summary['throughput']['mean_created_per_s']:.1f}/s · ceiling "
                  f"{cap['ceiling_created_per_s']:.1f}/s ({cap['keys']} key(s), "
                  f"{cap['calls_per_registration']:.2f} calls each)")
    table.add_row("attempts", f"{summary['attempts_per_created']:.2f} per created registration")
    table.add_row("simulated", f"{_fmt_s(summary['simulated_s'])} in {summary['wall_s']:.1f} s wall")
    for reason, count in list(summary.get("dead_letter_reasons", {}).items())[:3]:
        table.add_row("dead-letter", f"{count:,} × {reason}")
    for reason, count in list(summary.get("rejected_by", {}).items())[:3]:
        table.add_row("rejected", f"{count:,} × {reason}")
    table.add_row("run directory", str(run_dir))
    out.print(table)
