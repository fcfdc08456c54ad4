"""A `stampede plan` run directory's report: the question, the answer in one sentence, every probe with its
met share and interval, and the chosen value's figures.

A plan directory holds ``plan.json`` (what ``plan --json`` prints), ``probes.csv`` (one row per probe and
replication) and ``chosen/`` (the chosen value's run, a normal run directory). ``write_plan_report`` reads
them and writes ``report.html`` beside them; it is what ``stampede plan`` and ``stampede report DIR`` call.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from reports.errors import ReportError
from reports.headline import format_duration, format_number, format_share
from reports.html import environment, figures_data
from reports.rundata import is_run_dir, load_run
from reports.write import REPORT_FILE, run_pictures
from simulator.stats import wilson

__all__ = ["CHOSEN_DIR", "PLAN_FILE", "PROBES_FILE", "is_plan_dir", "write_plan_report"]

PLAN_FILE = "plan.json"
PROBES_FILE = "probes.csv"
CHOSEN_DIR = "chosen"


def is_plan_dir(path: Path) -> bool:
    return (path / PLAN_FILE).is_file()


def _show(path: str, value: Any) -> str:
    """A metric's value in its unit: a duration for ``…_s`` paths, else three significant figures."""
    if value is None or value == "":
        return "—"
    number = float(value)
    return format_duration(number) if path.split(".")[0].endswith("_s") else format_number(number)


def _question(plan: dict[str, Any]) -> list[str]:
    lines = [f"SLO (all must hold): {' and '.join(plan['slo'])}",
             f"Search: the {plan['direction']} {plan['key']} for which every SLO holds"]
    if "probability" in plan:
        lines.append(f"A value meets the SLO when at least {plan['probability']:.0%} of its replications do "
                     f"(up to {plan['replications']} replications per probe, decided at "
                     f"{plan.get('confidence', 0.95):.0%} confidence)")
    return lines


def _answer(plan: dict[str, Any]) -> str:
    if plan["value"] is None:
        return f"No {plan['key']} in the searched range meets every SLO ({' and '.join(plan['slo'])})."
    return str(plan.get("answer") or f"{plan['key']} = {plan.get('value_text', plan['value'])} meets every SLO.")


def write_plan_report(plan_dir: Path) -> Path:
    """Read ``plan_dir`` (plan.json, probes.csv, chosen/) and write its report.html; returns its path.
    ReportError naming the file at fault when one is missing or unreadable."""
    try:
        plan = json.loads((plan_dir / PLAN_FILE).read_text(encoding="utf-8"))
        rows = list(csv.DictReader(io.StringIO((plan_dir / PROBES_FILE).read_text(encoding="utf-8"))))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{plan_dir}: not a readable plan directory ({exc}); expected {PLAN_FILE} and "
                          f"{PROBES_FILE} as `stampede plan` writes them") from None
    confidence = float(plan.get("confidence", 0.95))
    paths = list(dict.fromkeys(slo_path for slo_path in rows[0] if slo_path not in
                               ("value", "replication", "seed", "met"))) if rows else []
    by_value: dict[float, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_value[float(row["value"])].append(row)
    probes = []
    for tried in plan["tried"]:
        mine = by_value.get(float(tried["value"]), [])
        met = sum(row["met"] == "True" for row in mine)
        low, high = wilson(met, len(mine), confidence) if mine else (float("nan"), float("nan"))
        probes.append({
            "value": tried.get("value_text", tried["value"]),
            "chosen": tried["value"] == plan["value"],
            "met": "meets" if tried["met"] else "fails",
            "share": f"{met}/{len(mine)} ({format_share(met / len(mine) if mine else None)})",
            "interval": f"{format_share(low)}–{format_share(high)}",
            "metrics": [_show(p, (tried.get("metrics") or {}).get(p)) for p in paths],  # the probe's means
        })
    chosen = plan_dir / CHOSEN_DIR
    run = load_run(chosen) if is_run_dir(chosen) else None
    page = environment().get_template("plan.html.j2").render(
        title=f"Stampede plan — {plan['key']}",
        question=_question(plan),
        answer=_answer(plan),
        paths=paths,
        probes=probes,
        confidence=f"{confidence:.0%}",
        chosen_link=f"{CHOSEN_DIR}/{REPORT_FILE}" if (chosen / REPORT_FILE).is_file() else None,
        figures=figures_data(run_pictures(run)) if run is not None else [],
    )
    report = plan_dir / REPORT_FILE
    report.write_text(page, encoding="utf-8")
    return report
