"""A `stampede plan` run directory's report, read as a decision: the question, the answer in one sentence, the
settings that are not as the scenario says (keys --set made certain, central values), then the evidence —
every probe with its met share and interval, the chosen value's headline table and figures.

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
from reports.replicated import headline_rows
from reports.rundata import is_run_dir, load_run
from reports.write import REPORT_FILE, run_pictures
from simulator.records import STOPPED_AT_S, STOPPED_BECAUSE
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


def _question(plan: dict[str, Any]) -> str:
    """The question in one sentence: What is the smallest dataverse.app_users for which
    time_to_created_s.p95<=15m holds in at least 95 % of replications?"""
    share = f" in at least {plan['probability']:.0%} of replications" if "probability" in plan else ""
    return (f"What is the {plan['direction']} {plan['key']} for which {' and '.join(plan['slo'])} "
            f"{'hold' if len(plan['slo']) > 1 else 'holds'}{share}?")


def _how(plan: dict[str, Any]) -> list[str]:
    """How the question was asked: the rule a probe's verdict follows, and settings not as the scenario says."""
    lines = []
    if "probability" in plan:
        lines.append(f"A value meets when at least {plan['probability']:.0%} of its replications meet every SLO, "
                     f"shown at {plan.get('confidence', 0.95):.0%} confidence (up to {plan['replications']} "
                     "replications per probe; a probe stops once decided).")
    else:
        lines.append("Each value is one run (no replications): its verdict is that run's, with no interval.")
    chosen: dict[str, Any] = next((row for row in plan["tried"] if row["value"] == plan["value"]), {})
    if chosen.get("decided") is False:
        at = chosen.get("decide_at")
        lines.append(f"Undecided: {chosen['met_count']} of {chosen['replications']} replications met, not enough to "
                     f"show it at {plan.get('confidence', 0.95):.0%} confidence either way; the answer is the share's"
                     + (f" (--replications {at} could decide it)." if at else "."))
    for key, value in plan.get("certain_by_set", {}).items():
        lines.append(f"{key} = {value['shown']} (--set): certain in every run — [uncertain] no longer draws it.")
    if plan.get("central_values"):
        lines.append("One replication: every probe ran at the central values of [uncertain], not a random draw: "
                     + ", ".join(f"{key} = {c['shown']} ({c['statistic']})"
                                 for key, c in plan["central_values"].items()) + ".")
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
    replicated = "probability" in plan
    bookkeeping = ("value", "replication", "seed", "met", STOPPED_AT_S, STOPPED_BECAUSE)
    paths = [column for column in (rows[0] if rows else {}) if column not in bookkeeping]  # the SLOs' figures
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
            "met": ("meets" if tried["met"] else "fails") + ("" if tried.get("decided", True) else ", undecided"),
            "share": f"{met}/{len(mine)} ({format_share(met / len(mine) if mine else None)})",
            "interval": f"{format_share(low)}–{format_share(high)}",
            "metrics": [_show(p, (tried.get("metrics") or {}).get(p)) for p in paths],  # the probe's means
        })
    chosen = plan_dir / CHOSEN_DIR
    run = load_run(chosen) if is_run_dir(chosen) else None
    page = environment().get_template("plan.html.j2").render(
        title=f"Stampede plan — {plan['key']}",
        question=_question(plan),
        how=_how(plan),
        answer=_answer(plan),
        found=plan["value"] is not None,
        replicated=replicated,
        paths=paths,
        probes=probes,
        confidence=f"{confidence:.0%}",
        chosen_value=plan.get("value_text", plan["value"]),
        chosen_n=(run.summary_value("replications") or {}).get("n") if run is not None else None,
        chosen_link=f"{CHOSEN_DIR}/{REPORT_FILE}" if (chosen / REPORT_FILE).is_file() else None,
        headline=headline_rows(run) if run is not None else [],
        figures=figures_data(run_pictures(run)) if run is not None else [],
    )
    report = plan_dir / REPORT_FILE
    report.write_text(page, encoding="utf-8")
    return report
