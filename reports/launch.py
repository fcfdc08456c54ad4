"""The figure a marketer reads: when the invitations go out, when people register, when their registrations
are created and when they are confirmed — cumulative, against the local time of day with weekdays.

Drawn from the run's own series (``timeseries.csv``: ``invitations_sent``, ``offered``, ``created``,
``confirmed``) and the scenario's ``journey.start``, which places run time 0 on the calendar.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.headline import format_count
from reports.plotting import COLOR, legend_below, new_figure
from reports.rundata import RunData
from reports.series import coarsen

__all__ = ["LaunchSeries", "launch_series", "launch_figure", "launch_caption", "has_launch"]

CURVES = (("invitations_sent", "invitations sent", "#8c564b"), ("offered", "registered (submitted)", "#8c8c8c"),
          ("created", "created in Dataverse", COLOR["created"]),
          ("confirmed", "confirmation email sent", COLOR["confirmed"]))


@dataclass(frozen=True)
class LaunchSeries:
    """Cumulative counts at each bin end (``at``: local date and time), one array per curve of :data:`CURVES`
    (absent columns are left out)."""

    at: list[datetime.datetime]
    counts: dict[str, np.ndarray]


def has_launch(run: RunData) -> bool:
    """A run of an invitation journey (it has sent invitations)."""
    return run.scenario_value("workload.shape") == "journey" and "invitations_sent" in run.timeseries.columns


def launch_series(run: RunData) -> LaunchSeries:
    ts = coarsen(run.timeseries)
    start = datetime.datetime.fromisoformat(run.scenario_value("journey.start", "2027-03-01T09:00"))
    ends = [0.0, *(ts.t_s + ts.bin_s).tolist()]
    counts = {name: np.concatenate([[0.0], np.cumsum(ts[name], dtype=float)])
              for name, _, _ in CURVES if name in ts.columns}
    return LaunchSeries([start + datetime.timedelta(seconds=t) for t in ends], counts)


def launch_figure(run: RunData) -> Figure:
    data = launch_series(run)
    figure = new_figure(10, 4.8)
    ax = figure.add_subplot()
    for name, label, color in CURVES:
        if name in data.counts:
            values = data.counts[name]
            wide = name == "offered"  # drawn wide and pale under created, which nearly coincides with it
            ax.plot(date2num(data.at), values, color=color, lw=4 if wide else 2.0, alpha=0.5 if wide else 1.0,
                    label=f"{label} ({format_count(values[-1])})")
    locator = AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%a %H:%M"))
    ax.set_yscale("symlog", linthresh=100)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: format_count(value)))
    ax.set_ylabel("so far (log scale above 100)")
    ax.set_xlabel("local time (journey.start places the run on the calendar)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    legend_below(figure, handles, labels, columns=len(labels))
    ax.set_title(f"Invitations, registrations, records and confirmations — {run.name}", fontsize=11)
    return figure


def launch_caption(run: RunData) -> str:
    ends = run.summary_value("journey.sending_ends")
    sent = f" The last invitation goes out {ends}." if ends else ""
    confirmed = run.summary_value("time_to_confirmed_s.p95")
    wait = (f" 95 % of the accepted registrants had their confirmation email within {confirmed / 60:.1f} min of "
            "submitting." if confirmed is not None else "")
    return ("Cumulative invitations sent by the journey (brown), registrations submitted (grey), created in "
            "Dataverse (green) and confirmation emails sent (orange), against the local day and time of the "
            "journey's start." + sent + wait + " Steps in the brown curve are the entry limit's intervals, and "
            "flat stretches its entry days and quiet times.")
