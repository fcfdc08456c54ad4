"""The HTML report as a string: one self-contained page (inline CSS, PNGs as data URIs, no script, nothing
fetched), so it opens offline and can be mailed as one file.

The markup lives in Jinja2 templates shipped with the package (``reports/templates/``: ``run.html.j2``,
``comparison.html.j2``, their ``base.html.j2`` and ``report.css``); this module only gathers what they show.
Autoescaping is on for every template, so every piece of text from a run — names, descriptions, the
scenario file — is escaped; nothing is marked safe.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from reports.comparison import ComparisonTable
from reports.headline import (
    format_count,
    format_duration,
    format_number,
    format_rate,
    format_share,
    show_value,
)
from reports.replicated import drawn_inputs, headline_rows
from reports.rundata import RunData
from reports.verdict import Verdict
from simulator.decision import Decision

__all__ = ["Picture", "comparison_html", "environment", "figures_data", "run_html"]


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: loaded from the installed package, autoescaped, strict about names."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True)
class Picture:
    """A rendered figure: ``png`` is the image file's bytes."""

    slug: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class _Figure:
    slug: str
    title: str
    caption: str
    data: str
    """The PNG, base64-encoded for its data URI."""


def figures_data(pictures: Sequence[Picture]) -> list[_Figure]:
    """The figures as the templates' ``figures_section`` takes them (PNG inlined as base64)."""
    return [_Figure(p.slug, p.title, p.caption, base64.b64encode(p.png).decode("ascii")) for p in pictures]


def _meta(run: RunData) -> str:
    parts = [
        f"scenario {run.summary_value('name', run.scenario_value('name', '?'))}",
        f"mode {run.summary_value('mode', '?')}",
        f"seed {run.summary_value('seed', run.scenario_value('seed', '?'))}",
    ]
    simulated = run.summary_value("simulated_s")
    if isinstance(simulated, int | float):
        parts.append(f"run time {format_duration(float(simulated))}")
    overrides = run.summary_value("overrides") or []
    if overrides:
        parts.append("overrides " + " ".join(str(o) for o in overrides))
    return " · ".join(parts)


@dataclass(frozen=True)
class _LiveBlock:
    sent: str
    rows: list[tuple[str, str, str]]
    """(figure, live value, simulated value)."""


def _live_vs_simulated(run: RunData) -> _LiveBlock | None:
    """A live run of ``stampede load``: what the load generators sent, and the live figures beside the
    simulation of the same scenario over the same window (summary.json's ``load`` and ``simulated``)."""
    load, simulated = run.summary.get("load"), run.summary.get("simulated")
    if not isinstance(load, dict) or not isinstance(simulated, dict):
        return None

    def get(summary: dict[str, Any], dotted: str) -> Any:
        node: Any = summary
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def share(summary: dict[str, Any]) -> float | None:
        admitted, throttled = get(summary, "dataverse.admitted") or 0, get(summary, "dataverse.throttled") or 0
        return throttled / (admitted + throttled) if admitted + throttled else None

    figures = [
        ("submissions offered", format_count, "submissions.offered"),
        ("accepted", format_count, "submissions.accepted"),
        ("created", format_count, "submissions.created"),
        ("mean created per second", format_rate, "throughput.mean_created_per_s"),
        ("time to created, p50", format_duration, "time_to_created_s.p50"),
        ("time to created, p95", format_duration, "time_to_created_s.p95"),
        ("last created (from the first arrival)", format_duration, "last_created_s"),
    ]
    rows = [(label, show(get(run.summary, key)), show(get(simulated, key))) for label, show, key in figures]
    rows.append(("Dataverse requests throttled", format_share(share(run.summary)), format_share(share(simulated))))
    sent = (f"{format_count(load.get('sent'))} of {format_count(load.get('scheduled'))} arrivals sent; target "
            f"{format_rate(load.get('target_rate_per_s'))}, achieved {format_rate(load.get('achieved_rate_per_s'))}"
            f" per wall second (time scale {show_value(load.get('time_scale'))}, {load.get('processes')} "
            f"process(es)); {format_count(load.get('late'))} late, {format_count(load.get('dropped'))} dropped, "
            f"{format_count(load.get('lost'))} lost; registration p99 "
            f"{format_number(get(load, 'latency_ms.registration.p99'))} ms, from the intended send time "
            f"{format_number(get(load, 'latency_ms.registration_from_intended.p99'))} ms. Locust's own report: "
            "locust.html.")
    return _LiveBlock(sent, rows)


def _interrupted_text(run: RunData) -> str | None:
    """What an interrupted run (Ctrl-C; ``"interrupted": true``) holds: the headline says it first."""
    if run.summary_value("interrupted") is not True:
        return None
    block = run.summary_value("replications")
    if isinstance(block, dict):
        return (f"Interrupted run: Ctrl-C stopped it after {block.get('n')} of {block.get('requested') or '?'} "
                "replications; every figure here comes from those alone.")
    return ("Interrupted run: Ctrl-C stopped it before it finished; what was pending then is counted as pending, "
            "and the figures end where it stopped.")


def run_html(run: RunData, verdict: Verdict, pictures: Sequence[Picture]) -> str:
    title = f"Stampede report — {run.name}"
    return environment().get_template("run.html.j2").render(
        title=title,
        meta=_meta(run),
        description=str(run.scenario_value("description", "") or ""),
        headline=headline_rows(run),
        interrupted=_interrupted_text(run),
        live=_live_vs_simulated(run),
        drawn=drawn_inputs(run),
        verdict=verdict,
        figures=figures_data(pictures),
        scenario_text=run.scenario_text,
        run_path=str(run.path),
    )


@dataclass(frozen=True)
class _Cell:
    text: str
    best: bool
    lossy: bool = False  # the variant lost registrations: its times, rates and attempts are not ranked


@dataclass(frozen=True)
class _Row:
    rank: int
    label: str
    link: str | None
    cells: list[_Cell]


def comparison_html(
    runs: Sequence[RunData],
    table: ComparisonTable,
    verdict: Verdict,
    pictures: Sequence[Picture],
    links: Sequence[str | None],
    decision: Decision,
) -> str:
    """``links[i]``: relative URL of variant i's own report, or None; rows in the ``decision``'s order (its
    sentences come first), a variant that lost registrations marked † as on the console."""
    rows = [
        _Row(place + 1, table.labels[r] + (" †" if r in decision.lossy else ""), links[r],
             [_Cell(table.text(r, c), r in table.best[c], bool(table.flagged) and r in table.flagged[c])
              for c in range(len(table.metrics))])
        for place, r in enumerate(decision.order)
    ]
    return environment().get_template("comparison.html.j2").render(
        title=f"Stampede comparison — {len(runs)} variants",
        decision=decision.sentences,
        scenario_name=str(runs[0].scenario_value("name", "?")),
        common=" · ".join(f"{metric.label} {metric.display(value)}" for metric, value in table.common),
        metrics=table.metrics,
        rows=rows,
        verdict=verdict,
        figures=figures_data(pictures),
        runs=[(label, str(run.path)) for label, run in zip(table.labels, runs, strict=True)],
    )
