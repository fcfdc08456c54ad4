"""The HTML report as a string: one self-contained page (inline CSS, PNGs as data URIs, no script, nothing
fetched), so it opens offline and can be mailed as one file. Every piece of text is escaped."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from reports.comparison import ComparisonTable
from reports.headline import (
    HEADLINE,
    format_count,
    format_duration,
    format_number,
    format_rate,
    format_share,
    show_value,
)
from reports.replicated import drawn_inputs_html, interval_text
from reports.rundata import RunData
from reports.verdict import Verdict

__all__ = ["Picture", "comparison_html", "run_html"]

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1280px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
.meta { color: #666; margin: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top; }
th:first-child, td:first-child, th.variant { text-align: left; }
thead th { background: #f5f5f5; font-weight: 600; }
table.headline td:first-child { color: #555; }
table.comparison { font-size: 13px; }
table.comparison th, table.comparison td { padding: .3rem .45rem; }
table.comparison td { white-space: nowrap; }
table.comparison td.variant { white-space: normal; min-width: 10rem; text-align: left; }
table.comparison td.rank { color: #666; }
.table-wrap { overflow-x: auto; }
td.best { background: #e3f4e1; font-weight: 700; }
td.best::after { content: " ★"; color: #2b7a2b; }
td.lossy { color: #999; }
td.lossy::after { content: " †"; color: #b03030; }
.verdict li, .ranking li { margin: .25rem 0; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 14px; max-width: 60rem; margin-top: .4rem; }
details pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: 12px; }
footer { color: #888; font-size: 12px; margin-top: 3rem; }
"""


@dataclass(frozen=True)
class Picture:
    """A rendered figure: ``png`` is the image file's bytes."""

    slug: str
    title: str
    caption: str
    png: bytes


def _page(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def _figures(pictures: Sequence[Picture]) -> list[str]:
    out = ['<section id="figures">', "<h2>Figures</h2>"]
    for picture in pictures:
        data = base64.b64encode(picture.png).decode("ascii")
        out += [
            f'<figure id="fig-{escape(picture.slug)}">',
            f"<h3>{escape(picture.title)}</h3>",
            f'<img src="data:image/png;base64,{data}" alt="{escape(picture.title)}">',
            f"<figcaption>{escape(picture.caption)}</figcaption>",
            "</figure>",
        ]
    return [*out, "</section>"]


def _verdict(verdict: Verdict) -> list[str]:
    out = ['<section id="verdict">', "<h2>Verdict</h2>"]
    if verdict.ranking:
        out.append('<ol class="ranking">')
        out += [f"<li>{escape(item)}</li>" for item in verdict.ranking]
        out.append("</ol>")
    out.append('<ul class="verdict">')
    out += [f"<li>{escape(sentence)}</li>" for sentence in verdict.sentences]
    out += ["</ul>", "</section>"]
    return out


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


def _live_vs_simulated(run: RunData) -> list[str]:
    """A live run of ``stampede load``: what the load generators sent, and the live figures beside the
    simulation of the same scenario over the same window (summary.json's ``load`` and ``simulated``)."""
    load, simulated = run.summary.get("load"), run.summary.get("simulated")
    if not isinstance(load, dict) or not isinstance(simulated, dict):
        return []

    def get(summary: dict[str, Any], dotted: str) -> Any:
        node: Any = summary
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def share(summary: dict[str, Any]) -> float | None:
        admitted, throttled = get(summary, "dataverse.admitted") or 0, get(summary, "dataverse.throttled") or 0
        return throttled / (admitted + throttled) if admitted + throttled else None

    rows = [
        ("submissions offered", format_count, "submissions.offered"),
        ("accepted", format_count, "submissions.accepted"),
        ("created", format_count, "submissions.created"),
        ("mean created per second", format_rate, "throughput.mean_created_per_s"),
        ("time to created, p50", format_duration, "time_to_created_s.p50"),
        ("time to created, p95", format_duration, "time_to_created_s.p95"),
        ("last created (from the first arrival)", format_duration, "last_created_s"),
    ]
    body = [f"<tr><td>{escape(label)}</td><td>{escape(show(get(run.summary, key)))}</td>"
            f"<td>{escape(show(get(simulated, key)))}</td></tr>" for label, show, key in rows]
    body.append(f"<tr><td>Dataverse requests throttled</td><td>{escape(format_share(share(run.summary)))}</td>"
                f"<td>{escape(format_share(share(simulated)))}</td></tr>")
    sent = (f"{format_count(load.get('sent'))} of {format_count(load.get('scheduled'))} arrivals sent; target "
            f"{format_rate(load.get('target_rate_per_s'))}, achieved {format_rate(load.get('achieved_rate_per_s'))}"
            f" per wall second (time scale {show_value(load.get('time_scale'))}, {load.get('processes')} "
            f"process(es)); {format_count(load.get('late'))} late, {format_count(load.get('dropped'))} dropped, "
            f"{format_count(load.get('lost'))} lost; registration p99 "
            f"{format_number(get(load, 'latency_ms.registration.p99'))} ms, from the intended send time "
            f"{format_number(get(load, 'latency_ms.registration_from_intended.p99'))} ms. Locust's own report: "
            "locust.html.")
    return [
        '<section id="live-vs-simulated">',
        "<h2>Live against simulated</h2>",
        f"<p>{escape(sent)}</p>",
        '<table class="headline">',
        "<thead><tr><th>figure</th><th>live</th><th>simulated</th></tr></thead>",
        "<tbody>", *body, "</tbody>",
        "</table>",
        "</section>",
    ]


def run_html(run: RunData, verdict: Verdict, pictures: Sequence[Picture]) -> str:
    rows = [
        f"<tr><td>{escape(metric.label)}</td><td>{escape(interval_text(run, metric))}</td></tr>"
        for metric in HEADLINE
    ]
    description = run.scenario_value("description", "")
    body = [
        "<header>",
        f"<h1>Stampede report — {escape(run.name)}</h1>",
        f'<p class="meta">{escape(_meta(run))}</p>',
        f"<p>{escape(str(description))}</p>" if description else "",
        "</header>",
        '<section id="headline">',
        "<h2>Headline figures</h2>",
        '<table class="headline">',
        "<thead><tr><th>figure</th><th>value</th></tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        "</section>",
        *_live_vs_simulated(run),
        *drawn_inputs_html(run),
        *_verdict(verdict),
        *_figures(pictures),
        '<section id="scenario">',
        "<h2>Scenario</h2>",
        "<details><summary>scenario.toml (resolved, with overrides)</summary>",
        f"<pre>{escape(run.scenario_text)}</pre>",
        "</details>",
        "</section>",
        f"<footer>Run directory {escape(str(run.path))}.</footer>",
    ]
    return _page(f"Stampede report — {run.name}", [line for line in body if line])


def comparison_html(
    runs: Sequence[RunData],
    table: ComparisonTable,
    verdict: Verdict,
    pictures: Sequence[Picture],
    links: Sequence[str | None],
    order: Sequence[int],
) -> str:
    """``links[i]``: relative URL of variant i's own report, or None; ``order``: variant indices best first."""
    ranks = {index: place + 1 for place, index in enumerate(order)}
    head = "".join(f'<th title="{escape(metric.label)}">{escape(metric.column)}</th>' for metric in table.metrics)
    head = f'<th title="rank, as explained in the verdict">#</th><th class="variant">variant</th>{head}'
    common = " · ".join(f"{metric.label} {metric.display(value)}" for metric, value in table.common)
    rows = []
    for r, label in enumerate(table.labels):
        name = escape(label)
        if links[r]:
            name = f'<a href="{escape(str(links[r]))}">{name}</a>'
        cells = []
        for c in range(len(table.metrics)):
            flagged = table.flagged[c] if table.flagged else set()
            css = ' class="best"' if r in table.best[c] else ' class="lossy"' if r in flagged else ""
            cells.append(f"<td{css}>{escape(table.text(r, c))}</td>")
        rows.append(f'<tr><td class="rank">{ranks[r]}</td><td class="variant">{name}</td>{"".join(cells)}</tr>')
    runs_list = [
        f"<li>{escape(label)}: {escape(str(run.path))}</li>" for label, run in zip(table.labels, runs, strict=True)
    ]
    title = f"Stampede comparison — {len(runs)} variants"
    body = [
        "<header>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">scenario {escape(str(runs[0].scenario_value("name", "?")))}</p>',
        "</header>",
        '<section id="headline">',
        "<h2>Headline figures</h2>",
        f'<p class="common">Same in every variant: {escape(common)}.</p>' if common else "",
        '<div class="table-wrap">',
        '<table class="headline comparison">',
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        "</div>",
        '<p class="meta">★ marks the best value of each column: lower is better for times, losses, throttling '
        "and attempts; higher for created, mean created rate and hit ratio. With replications, a value is "
        "starred only where it beats the runner-up beyond the 95 % interval (paired, on the same seeds). † marks "
        "a variant that lost registrations (created more than 1 % fewer than the best): its times, rates and "
        "attempts are not ranked, since it finished only what it kept. Figures that are equal in every "
        "variant are listed once above the table. p50/p95/p99 are times from submission to created record "
        "and count only created registrations. Hover a heading for its full name.</p>",
        "</section>",
        *_verdict(verdict),
        *_figures(pictures),
        '<section id="runs">',
        "<h2>Run directories</h2>",
        "<ul>",
        *runs_list,
        "</ul>",
        "</section>",
    ]
    return _page(title, [line for line in body if line])
