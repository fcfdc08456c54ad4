"""`stampede plan` writes a run directory: plan.json is the --json output, probes.csv one row per probe and
replication (counted independently of plan.json's own counts), chosen/ the chosen value's run with its report,
and report.html the plan's page; `stampede report DIR` writes that page again."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stampede.cli import _register_commands, app

_register_commands()
TINY = ["--set", "workload.duration=2m", "--set", "workload.rate=5"]


def _plan(out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["plan", "scenarios/email-blast.toml", "--slo", "time_to_created_s.p95<=600",
                                      "--search", "dataverse.app_users=1..3", *TINY, "--out", str(out), "--json",
                                      *extra])
    return result.exit_code, result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--replications", "3", "--workers", "1", "--probability", "0.5"], []])
def test_plan_writes_a_run_directory_whose_files_agree(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "plan"
    code, stdout = _plan(out, *extra)
    assert code == 0, stdout
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan == json.loads(stdout)
    rows = list(csv.DictReader((out / "probes.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["value", "replication", "seed", "met", "time_to_created_s.p95", "stopped_at_s",
                             "stopped_because"]
    for row in rows:  # a replication cut short is not met, has no figure, and says which SLO could not hold
        assert bool(row["stopped_at_s"]) == bool(row["stopped_because"])
        if row["stopped_at_s"]:
            assert row["met"] == "False" and row["time_to_created_s.p95"] == ""
            assert row["stopped_because"].startswith("time_to_created_s.p95<=10m cannot hold: ")
    per_probe = [row.get("replications", 1) for row in plan["tried"]]
    assert len(rows) == sum(per_probe)
    for tried in plan["tried"]:
        mine = [row for row in rows if float(row["value"]) == tried["value"]]
        assert [int(row["replication"]) for row in mine] == list(range(1, len(mine) + 1))
        if "met_count" in tried:
            assert sum(row["met"] == "True" for row in mine) == tried["met_count"]
        else:
            assert (mine[0]["met"] == "True") == tried["met"]
    chosen = json.loads((out / "chosen" / "summary.json").read_text(encoding="utf-8"))
    assert f"dataverse.app_users={plan['value']}" in chosen["overrides"]
    assert (out / "chosen" / "report.html").is_file()
    found = [row for row in rows if float(row["value"]) == plan["value"]]
    if extra:  # chosen/ is the replications its probe counted (same seeds), not --replications afresh
        with (out / "chosen" / "replications.csv").open(encoding="utf-8") as lines:
            again = list(csv.DictReader(lines))
        assert [r["seed"] for r in again] == [row["seed"] for row in found]
        # The probe's summaries are reused and replication 1 is run again with its files: its figure, from a
        # second run of the same seed, is the probe's, and so is every reused one's.
        assert [float(r["time_to_created_s.p95"]) for r in again] == [float(row["time_to_created_s.p95"])
                                                                      for row in found]
        assert (out / "chosen" / "submissions.csv").is_file()
    else:
        assert chosen["seed"] == int(found[0]["seed"]) and "replications" not in chosen
    page = (out / "report.html").read_text(encoding="utf-8")
    text = page.replace("&#39;", "'").replace("&quot;", '"').replace("&amp;", "&")
    assert plan["answer"] in text
    assert text.index("What is the smallest dataverse.app_users") < text.index(plan["answer"]) < text.index(
        '<section id="probes">') < text.index('<section id="chosen">')  # question, answer, then the evidence
    probes_table, headline = page.split('<section id="chosen">')[0], page.split('<section id="chosen">')[1]
    assert probes_table.count("<tr") == len(plan["tried"]) + 1  # header + one row per probe
    assert ("met share" in probes_table) == bool(extra)  # no interval from one run
    assert "stopped" not in probes_table.split("<tbody>")[0]  # probes.csv's bookkeeping is not an SLO column
    own = (out / "chosen" / "report.html").read_text(encoding="utf-8")  # the chosen run's headline table, as is
    table = own[own.index('<table class="headline">'):own.index("</table>") + len("</table>")]
    assert table in headline and "Created" in table
    assert "data:image/png;base64," in page  # the chosen value's figures

    (out / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.stdout
    assert (out / "report.html").read_text(encoding="utf-8") == page

    code, _ = _plan(out, *extra)  # the directory now holds a plan: refused before any work without --force
    assert code == 2
