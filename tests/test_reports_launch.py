"""The marketer's figure (reports/launch.py), the confirmation curve beside created, and the verdict's
confirmation and request-pool sentences, on a real (small) journey run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reports.figures import run_charts
from reports.launch import has_launch, launch_series
from reports.rundata import RunData, load_run
from reports.series import cumulative_series
from reports.verdict import pool_sentence, run_verdict
from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.scenario import parse_scenario, scenario_to_toml


@pytest.fixture(scope="module")
def journey_run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    scenario = parse_scenario({"name": "launch", "horizon": "20h", "bin": "1m", "workload": {"shape": "journey"},
                               "journey": {"audience": 20_000, "entry_limit": 5_000, "response_share": 0.2,
                                           "start": "2027-03-05T17:00", "quiet": {"from": "20:00", "to": "08:00"}}})
    run = run_virtual(scenario)
    directory = tmp_path_factory.mktemp("runs") / "launch"
    directory.mkdir()
    for name, text in run_files(run.recorder, run.summary, scenario_to_toml(scenario)).items():
        (directory / name).write_text(text, encoding="utf-8")
    return load_run(directory)


def test_the_launch_figure_counts_what_the_run_recorded(journey_run: RunData) -> None:
    assert has_launch(journey_run)
    data = launch_series(journey_run)
    subs = journey_run.submissions
    assert data.counts["offered"][-1] == len(subs)
    assert data.counts["created"][-1] == np.count_nonzero(subs.created)
    assert data.counts["confirmed"][-1] == journey_run.summary_value("confirmation.sent")
    sent = data.counts["invitations_sent"]
    # 17:00, 18:00, 19:00 batches of 5,000 go out at once; the 20:00 batch waits for Saturday 08:00
    friday_night = [i for i, at in enumerate(data.at) if at.strftime("%a %H:%M") == "Fri 23:00"][0]
    assert sent[friday_night] == 15_000 and sent[-1] == 20_000
    assert data.at[0].strftime("%A %H:%M") == "Friday 17:00"
    assert journey_run.summary_value("journey.sending_ends") == "Saturday 08:02"


def test_the_report_has_the_launch_figure_and_the_confirmed_curve(journey_run: RunData) -> None:
    charts = [chart.slug for chart in run_charts(journey_run)]
    assert charts[:2] == ["cumulative", "launch"]
    assert cumulative_series(journey_run).confirmed is not None
    sentences = run_verdict(journey_run).sentences
    assert any(s.startswith("95 % of accepted registrants had their confirmation email within") for s in sentences)


def test_the_pool_sentence_appears_only_above_half_the_pool(journey_run: RunData) -> None:
    assert pool_sentence(journey_run) is None  # a small run uses a sliver of 500,000
    summary = {**journey_run.summary, "dataverse": {**journey_run.summary["dataverse"], "requests_24h": 300_000,
                                                       "pool_24h": 500_000, "pool_share": 0.6}}
    busy = dataclasses.replace(journey_run, summary=summary)
    sentence = pool_sentence(busy)
    assert sentence is not None and "60.0% of the tenant's 24-hour request pool" in sentence


def test_the_pool_is_the_documented_allocation() -> None:
    from simulator.levers import pool_24h, requests_24h
    from simulator.scenario import Tenant
    assert pool_24h(Tenant()) == 500_000
    assert pool_24h(Tenant(licences=100, pool_addons=2)) == 1_100_000
    assert pool_24h(Tenant(licences=10_000, pool_addons=1)) == 10_050_000  # the licence part caps at 10,000,000
    per_bin = np.zeros(48 * 60, dtype=int)  # two days of 1-minute bins
    per_bin[[10, 1000, 1439, 1440, 2000]] = [5, 7, 11, 13, 17]
    assert requests_24h(per_bin, 60.0) == 7 + 11 + 13 + 17  # bins 1000..2000 fit in one 24 h window
