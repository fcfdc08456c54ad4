"""Terminal and file edges shared by the commands: progress bars, errors, run directories, summary tables."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.metrics import turned_away
from simulator.units import duration_text, metric_text
from stampede.outdir import OutDirError, check_out_dir, make_out_dir

# Piped output (CI logs, files) is as wide as COLUMNS says, 80 when unset (rich's own rule): tables and lines
# fit a CI log. Messages on stderr are one line each (soft-wrapped), progress lines are short.
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=200)
out = Console()


LINE_EVERY_S = 10.0  # progress lines in a log (no terminal): at most one this often


def fail(message: str, code: int = 2) -> NoReturn:
    # escaped: a message naming "[uncertain]" or "[catalog]" is text, not rich markup
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    raise SystemExit(code)


_warned: set[str] = set()


def warn(message: str) -> None:
    """One line on stderr, once per message (a grid's variants share their warnings)."""
    if message not in _warned:
        _warned.add(message)
        err.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)


def warn_central(central: dict[str, dict[str, Any]]) -> None:
    """The one line that says a single replication ran the central values (simulator.uncertain.central_values)."""
    if central:
        warn("--replications 1: one run at the central values of [uncertain] (no intervals): "
             + ", ".join(f"{key} = {c['shown']} ({c['statistic']})" for key, c in central.items()))


def warn_certain(certain: dict[str, dict[str, Any]]) -> None:
    """One line per [uncertain] key a --set made certain (simulator.uncertain.certain_by_set)."""
    for key, value in certain.items():
        warn(f"--set {key}: certain in this run — [uncertain] no longer draws it; every replication uses "
             f"{value['shown']}")


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
        try:
            return make_out_dir(out_dir)
        except OutDirError as exc:
            fail(str(exc))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    base = Path("runs") / f"{name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    candidate.mkdir(parents=True)
    return candidate


def check_out(out_dir: Path | None, force: bool, nested: bool = False) -> None:
    """Refuse a --out that cannot hold the run (a file, unwritable, or a run already without --force),
    before any work starts."""
    try:
        check_out_dir(out_dir, force=force, nested=nested)
    except OutDirError as exc:
        fail(str(exc))


def write_files(run_dir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (run_dir / name).write_text(text, encoding="utf-8")


def write_report(run_dirs: Path | list[Path], out_dir: Path | None = None) -> Path:
    """report.html (+ figures): in the run directory for one run, in ``out_dir`` for a comparison."""
    import reports  # matplotlib is imported only when a report is wanted

    dirs = [run_dirs] if isinstance(run_dirs, Path) else run_dirs
    return reports.write_report(dirs, out_dir)


@contextlib.contextmanager
def count_progress(label: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar over ``total`` steps (a spinner when None); yields ``advance()``. Not on a terminal (CI
    logs): a line at most every ``LINE_EVERY_S``, the first at the first step."""
    if not err.is_terminal:
        done, last_s = [0], [-math.inf]

        def line() -> None:
            done[0] += 1
            if time.monotonic() - last_s[0] >= LINE_EVERY_S:
                last_s[0] = time.monotonic()
                of = f" of {total}" if total is not None else ""
                err.print(f"  {label}: {min(done[0], total or done[0])}{of} done", highlight=False, markup=False)

        yield line
        return
    counter = "{task.completed}/{task.total}" if total is not None else "{task.completed}"
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(counter), TimeElapsedColumn(),
                   console=err, transient=True)
    with bar:
        task = bar.add_task(label, total=total)

        def advance() -> None:  # an estimate of the total (conform's phases) may be passed: never overshoot it
            done = bar.tasks[0].completed + 1
            bar.update(task, completed=done if total is None else min(done, total))

        yield advance


@contextlib.contextmanager
def load_progress(label: str, line_every_s: float = 10.0) -> Iterator[Callable[[Any], None]]:
    """While ``stampede load`` runs: arrivals sent of those planned, and records created so far; yields
    ``update(progress)`` for ``loadtests.runner.LoadProgress``. Not on a terminal (CI logs): a line at most
    every ``line_every_s`` instead of a bar."""
    if not err.is_terminal:
        last_s = [-math.inf]

        def line(progress: Any) -> None:
            now_s = time.monotonic()
            if now_s - last_s[0] >= line_every_s:
                last_s[0] = now_s
                err.print(f"[dim]  {progress.received:,} of {progress.planned:,} planned arrivals sent · "
                          f"{progress.created:,} created[/]", highlight=False)

        yield line
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.fields[sent]} of {task.fields[planned]} planned arrivals sent · "
                              "{task.fields[created]} created"), TimeElapsedColumn(), console=err, transient=True)
    with bar:
        task = bar.add_task(label, total=None, sent="0", planned="?", created="0")

        def update(progress: Any) -> None:
            bar.update(task, total=max(progress.planned, 1), completed=min(progress.received, progress.planned),
                       sent=f"{progress.received:,}", planned=f"{progress.planned:,}", created=f"{progress.created:,}")

        yield update


def print_plan(result: dict[str, Any], slo_path: str) -> None:
    """The probes tried (``slo_path``: the first SLO's figure, shown per probe)."""
    table = Table(title=f"plan: {result['key']} for {' and '.join(result['slo'])}", title_justify="left")
    for column in ("value", slo_path, "met", "analytic ceiling created/s", "mean demand/s"):
        table.add_column(column, justify="right")
    for row in result["tried"]:
        table.add_row(row.get("value_text", str(row["value"])), _slo_metric_text(row, slo_path), _met_cell(row),
                      f"{row['ceiling_created_per_s']:.2f}", f"{row['demand_per_s']:.2f}")
    out.print(table)
    analytic = result.get("analytic_text", result["analytic_value"])
    direction = result.get("direction", "smallest")
    bound = ("assumes more of it never helps" if direction == "largest" else
             "no analytic minimum: the ceiling never covers the demand in this range"
             if result["analytic_value"] is None else f"analytic minimum, ceiling ≥ mean demand: {analytic}")
    within = f" (to within {result['tolerance_text']})" if "tolerance_text" in result else ""
    if result["value"] is None:
        out.print(f"[bold red]no value in the range meets the SLO[/] ({bound})", highlight=False)
    else:
        out.print(f"[bold]{direction} {result['key']} meeting the SLO: {result.get('value_text', result['value'])}"
                  f"{within}[/] ({bound})", highlight=False)


def _slo_metric_text(row: dict[str, Any], path: str) -> str:
    """The SLO metric in its unit; with replications its mean and interval ("14.6 min (14.4–14.8 min)")."""
    interval = row.get("slo_metrics", {}).get(path)
    if interval is None and row["metric"] is None and row.get("cut_short"):
        return _cut_short_text(row, path)
    if interval is None:
        return metric_text(path, row["metric"])
    low, high = metric_text(path, interval["ci_low"]), metric_text(path, interval["ci_high"])
    unit = high.rpartition(" ")[2] if " " in high else ""
    if unit and low.endswith(" " + unit):  # "14.4–14.8 min", the unit said once
        low = low[: -len(unit) - 1]
    return f"{metric_text(path, interval['mean'])} ({low}–{high})"


_BEYOND = {"<=": ">", "<": "≥", ">=": "<", ">": "≤", "==": "≠"}


def _cut_short_text(row: dict[str, Any], path: str) -> str:
    """A probe cut short has no figure, but a single run stopped because this column's SLO could no longer hold
    is known to lie beyond its threshold: "> 2 min (cut short)"; otherwise "— (3 cut short)"."""
    from simulator.sweep import parse_slo

    failed, cut, _ = row.get("why", "").partition(" cannot hold")
    slo = parse_slo(failed) if cut and "met_share" not in row else None
    if slo is not None and slo.path == path:
        return f"{_BEYOND[slo.op]} {metric_text(path, slo.threshold)} (cut short)"
    return f"— ({row['cut_short']:,} cut short)"


def slo_metrics_text(metrics: dict[str, float | None], cut_short: int = 0) -> str:
    """A probe's SLO figures for a progress line: "time_to_created_s.p95 14.6 min · submissions.created 1,687";
    with replications cut short (their figures partial, so no mean), "… · 3 cut short, no mean"."""
    text = " · ".join(f"{path} {metric_text(path, value)}" for path, value in metrics.items()
                      if value is not None or not cut_short)  # a cut run's figure is not "not reached": unknown
    if cut_short:
        text = (text + " · " if text else "") + f"{cut_short:,} cut short, no mean"
    return text


def _met_cell(row: dict[str, Any]) -> str:
    """yes/no; with replications "meets — met in 38/40 (95 %, CI 83–99 %)" (engine.probe.met_text)."""
    if "met_share" not in row:
        return "yes" if row["met"] else "no"
    from simulator.engine.probe import met_text

    return met_text(row)


def time_to_created_text(ttc: dict[str, Any], submissions: dict[str, Any]) -> str:
    """The figures over every accepted registration: "p50 3.2 s · p95, p99, max not reached (12 % never
    created)" — those that fall among the registrations never created are not reached."""
    reached = [f"{k} {duration_text(ttc[k])}" for k in ("p50", "p95", "p99", "max") if ttc.get(k) is not None]
    missing = [k for k in ("p50", "p95", "p99", "max") if ttc.get(k) is None]
    if missing:
        accepted = submissions["accepted"]
        why = (f"{(1 - submissions['created'] / accepted) * 100:.0f} % never created" if accepted
               else "none accepted")
        reached.append(f"{', '.join(missing)} not reached ({why})")
    return " · ".join(reached)


def _lever_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The customer's figures: the confirmation email's wait, when the invitations end, the request pool."""
    rows = []
    ttc = summary.get("time_to_confirmed_s")
    confirmation = summary.get("confirmation")
    if ttc is not None and confirmation is not None:
        figures = " · ".join(f"{k} {duration_text(ttc[k])}" if ttc.get(k) is not None else f"{k} not reached"
                             for k in ("p50", "p95", "p99", "max"))
        rows.append(("time to confirmed", f"{figures} ({confirmation['sent']:,.0f} emails sent, at most "
                     f"{confirmation['queued_max']:,.0f} triggers waiting, {confirmation['dropped']:,.0f} dropped)"))
    journey = summary.get("journey")
    if journey and journey.get("sending_h") is not None:
        rows.append(("invitations", f"{journey['audience']:,.0f} sent by {journey['sending_ends']} "
                     f"({journey['sending_h']:.1f} h)"))
    dv = summary["dataverse"]
    if dv.get("pool_24h"):
        rows.append(("request pool", f"{dv['requests_24h']:,.0f} of {dv['pool_24h']:,.0f} requests in the busiest "
                     f"24 h ({dv['pool_share']:.0%})" + (": more than half" if dv["pool_share"] > 0.5 else "")))
    return rows


def print_summary(summary: dict[str, Any], run_dir: Path, report: Path | None = None) -> None:
    subs = summary["submissions"]
    dv = summary["dataverse"]
    ttc = summary["time_to_created_s"]
    cap = summary["capacity"]
    table = Table(title=f"{summary['name']} — {summary['mode']} run, seed {summary['seed']}", show_header=False,
                  title_justify="left")
    table.add_column(style="bold")  # counts rounded: a replicated run's are means ("377,585 hits", not .633333)
    table.add_column()
    away = turned_away(summary)  # capacity turn-aways: demand cut by a limit, not a failed validation
    table.add_row("submissions", f"{subs['offered']:,.0f} offered · {subs['accepted']:,.0f} accepted · "
                  f"{subs['rejected'] - sum(away.values()):,.0f} rejected at validation"
                  + (f" · {sum(away.values()):,.0f} turned away" if away else ""))
    table.add_row("outcome", f"{subs['created']:,.0f} created · {subs['dead_lettered']:,.0f} dead-lettered · "
                  f"{subs['pending']:,.0f} pending")
    table.add_row("last created", f"{duration_text(summary.get('last_created_s'))} after the first arrival "
                  f"(drain {duration_text(summary['throughput']['drain_s'])} after the last)")
    table.add_row("time to created", time_to_created_text(ttc, subs))
    if ttc.get("not_reached") and subs["created"]:
        created = ttc["of_created"]
        table.add_row("of those created", " · ".join(f"{k} {duration_text(created[k])}"
                                                      for k in ("p50", "p95", "p99", "max")))
    for label, text in _lever_rows(summary):
        table.add_row(label, text)
    by = dv["throttled_by"]
    table.add_row("Dataverse 429s", f"{dv['throttled']:,.0f} of {dv['admitted'] + dv['throttled']:,.0f} calls "
                  f"(requests {by['requests']:,.0f} · execution {by['execution']:,.0f} · concurrency "
                  f"{by['concurrency']:,.0f}); binding limit: {dv['binding_limit']}")
    if dv.get("failed"):
        table.add_row("Dataverse 503s", f"{dv['failed']:,.0f} (outage)")
    table.add_row("cache", f"hit ratio {summary['cache']['hit_ratio']:.1%} "
                  f"({summary['cache']['hits']:,.0f} hits, {summary['cache']['misses']:,.0f} misses)")
    table.add_row("throughput", f"peak {summary['throughput']['peak_created_per_s']:.1f}/s · mean "
                  f"{summary['throughput']['mean_created_per_s']:.1f}/s · ceiling "
                  f"{cap['ceiling_created_per_s']:.1f}/s ({cap['keys']:.0f} "
                  f"key{'' if round(cap['keys']) == 1 else 's'}, "
                  f"{cap['calls_per_registration']:.2f} calls each)")
    table.add_row("attempts", f"{summary['attempts_per_created']:.2f} per created registration")
    table.add_row("simulated", f"{duration_text(summary['simulated_s'])} in {summary['wall_s']:.1f} s wall")
    for reason, count in list(summary.get("dead_letter_reasons", {}).items())[:3]:
        table.add_row("dead-letter", f"{count:,.0f} × {reason}")
    for reason, count in [item for item in summary.get("rejected_by", {}).items() if item[0] not in away][:3]:
        table.add_row("rejected", f"{count:,.0f} × {reason}")
    for text in summary.get("registration", {}).get("overridden", {}).values():
        table.add_row("overridden", text)
    out.print(table)
    for reason, count in away.items():  # a setting that cut demand, on a line of its own
        out.print(f"{count:,.0f} of {subs['offered']:,.0f} submissions turned away: {reason} "
                  f"({summary['demand_cut_by'][reason]['said']})", highlight=False, markup=False, soft_wrap=True)
    # paths whole, on lines of their own (a table cell would cut them to fit 80 columns)
    out.print(f"run directory: {run_dir}", highlight=False, markup=False, soft_wrap=True)
    if report is not None:
        out.print(f"report: {report}", highlight=False, markup=False, soft_wrap=True)


def print_load(summary: dict[str, Any]) -> None:
    """The load block of a live run: what was sent against the schedule, and live against simulated."""
    load, versus = summary["load"], summary["load"]["vs_simulated"]
    regs, latency = load["registrations"], load["latency_ms"]
    table = Table(title="load — Locust against the live model", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("arrivals", f"{load['sent']:,} of {load['scheduled']:,} sent · target "
                  f"{load['target_rate_per_s']:.1f}/s · achieved {load['achieved_rate_per_s']:.1f}/s (per wall second; "
                  f"time scale {load['time_scale']:g}, {load['processes']} process(es))")
    table.add_row("late / dropped", f"{load['late']:,} late · {load['dropped']:,} dropped")
    table.add_row("answers", " · ".join(f"{n:,} {name}" for name, n in regs.items()))
    table.add_row("lost", f"{load['lost']:,} (accepted, yet neither created, dead-lettered nor pending)")
    table.add_row("registration latency", f"p50 {latency['registration']['p50']:g} ms · p99 "
                  f"{latency['registration']['p99']:g} ms; from the intended send time p99 "
                  f"{latency['registration_from_intended']['p99']:g} ms")
    table.add_row("vs simulated", f"created/s {versus['mean_created_per_s_live']:.3f} live · "
                  f"{versus['mean_created_per_s_simulated']:.3f} simulated (ratio "
                  f"{versus['mean_created_per_s_ratio']:.3f}); 429 share {versus['throttled_share_live']:.1%} · "
                  f"{versus['throttled_share_simulated']:.1%} ({versus['throttled_share_difference_points']:+.1f} pts)")
    out.print(table)


def print_serving(served: Any, host: str, port: int, db: Path, time_scale: float, server: Any,
                  ca_file: Path | None = None) -> None:
    """Startup banner: what a portal developer pastes into their config. The port is printed once bound;
    ``ca_file``: the CA a ``--tls`` run's clients trust."""
    base = served.app.state.base_path
    scheme = "https" if server.config.is_ssl else "http"

    def announce() -> None:
        bound = port
        for listener in getattr(server, "servers", []):
            for sock in getattr(listener, "sockets", []):
                bound = sock.getsockname()[1]
        url_host = f"[{host}]" if ":" in host else host
        err.print(f"[bold]Stampede event API mock[/] on {scheme}://{url_host}:{bound}", highlight=False)
        err.print(f"  host URL      {scheme}://{url_host}:{bound}   (the SDK's init(baseUrl, token, orgId) takes "
                  "this)", highlight=False)
        err.print(f"  base URL      {scheme}://{url_host}:{bound}{base}   (the API base: host URL + path)",
                  highlight=False)
        err.print(f"  org id        {served.org_id}", highlight=False)
        for index, webapp in enumerate(getattr(served.app.state, "webapp_ids", ())):
            err.print(f"  webapp id     {webapp}   (events/published?webappId=…: live event i with i mod "
                      f"{len(served.app.state.webapp_ids)} = {index})", highlight=False)
        err.print(f"  token         {served.token}   (query parameter emApplicationtoken)", highlight=False)
        origins = getattr(served, "origins", ()) or (served.origin,)
        allowed = "these origins" if len(origins) > 1 else "this origin"
        err.print(f"  origin        {', '.join(origins)}   (CORS allowed for {allowed} only)", highlight=False)
        if served.app.state.admin_token:
            err.print(f"  admin token   {served.app.state.admin_token}   (Authorization: Bearer … for /_harness)",
                      highlight=False)
        err.print(f"  database      {db}   ({served.model.resumed} pending submissions resumed)", highlight=False)
        err.print(f"  time scale    {time_scale:g} simulated s per wall s", highlight=False)
        err.print(f"  try           curl '{scheme}://{url_host}:{bound}{base}events/published?emApplicationtoken="
                  f"{served.token}'", highlight=False)
        if ca_file is not None:
            err.print(f"  TLS CA        {ca_file}   (trust it: REQUESTS_CA_BUNDLE={ca_file} "
                      f"NODE_EXTRA_CA_CERTS={ca_file})", highlight=False)
        dataverse = getattr(served.app.state, "dataverse_path", None)
        if dataverse:
            err.print(f"  Dataverse     {scheme}://{url_host}:{bound}{dataverse}   (Web API face: bearer token, "
                      "docs/dataverse-client.md)", highlight=False)
        print(f"READY {scheme}://{url_host}:{bound}", flush=True)  # a line scripts and tests can wait for

    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets=sockets)
        announce()

    server.startup = startup
