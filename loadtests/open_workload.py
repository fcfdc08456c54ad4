"""The open workload on Locust: a dispatcher greenlet per load-generating process sends each arrival at its
intended time, whatever the server does; the master sizes the user pools and adds up what every process counted.

    master (or the one local process)                       each worker (or the same local process)
    ───────────────────────────────────                     ───────────────────────────────────────────
    OpenWorkloadShape.tick: pools of users, sized from      "stampede:start" {Plan: scenario, scale, token,
      the scenario's peak rate; stop when every process       index i of n} → LoadSession: the dispatcher
      reported done (or a bounded grace ran out)              puts arrival k (k mod n = i) on a queue at
    test_start → "stampede:start" to each worker  ────────►   t0 + t_k / time_scale; idle Registrant and
    worker_report / "stampede:done" → Aggregate   ◄────────   Visitor users take them; lateness and drops
    quitting → the totals as JSON (--stampede-tally)          are counted; Tally shipped in reports + done

Users never pace themselves: an arrival waits only when every user of its class is busy, and that wait is
measured (latency from the intended send time, "late", "dropped") rather than hidden — the coordinated
omission a closed loop of users would commit.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gevent
from gevent.queue import Empty, Queue
from locust import LoadTestShape
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests import MASTER_PORT_LINE
from loadtests.locust_seams import pin_bound_master_port, pin_users_per_class, ready_worker_ids
from loadtests.tally import Tally
from loadtests.traffic import DEFAULT_ORG, Plan, Schedule, portable, users_per_class
from simulator.arrivals import Journey
from simulator.scenario import load_scenario, scenario_to_toml

__all__ = ["Arrival", "LoadSession", "Aggregate", "OpenWorkloadShape", "add_arguments", "install", "session_of",
           "START", "DONE"]

START = "stampede:start"
DONE = "stampede:done"
_SHAPE_GRACE_S = 10.0  # beyond the processes' own drain, before the shape stops regardless
logger = logging.getLogger(__name__)
_sessions: weakref.WeakKeyDictionary[Environment, LoadSession] = weakref.WeakKeyDictionary()
_aggregates: weakref.WeakKeyDictionary[Environment, Aggregate] = weakref.WeakKeyDictionary()


class Arrival(NamedTuple):
    k: int  # the arrival's number in the whole schedule
    intended_s: float  # time.monotonic() at which it should be sent
    journey: Journey


class LoadSession:
    """This process's share of the open workload: the dispatcher, the queues users take arrivals from, the tally."""

    def __init__(self, plan: Plan, worker: str) -> None:
        scenario = plan.scenario()
        self.plan = plan
        self.seed = scenario.seed
        self.repeat_share = scenario.load.repeat_share
        self.consent_purposes = scenario.registration.consent_purposes
        self.schedule = Schedule(scenario, plan.time_scale, plan.index, plan.count)
        self.tally = Tally(worker)
        self.registrations: Queue[Arrival] = Queue()
        self.visits: Queue[Arrival] = Queue()
        self.outstanding = 0  # arrivals queued or in progress
        self.window_end_s = float("inf")
        self.closed = False

    # --- the dispatcher ------------------------------------------------------------------------------------
    def run(self, report_done: Callable[[dict[str, Any]], None]) -> None:
        """Put every arrival of this process on its queue at its intended time; after the last, wait (bounded)
        for the answers, drop what is still queued, and report done with the tally."""
        plan = self.plan
        t0 = time.monotonic()
        self.window_end_s = t0 + self.schedule.window_s + plan.late_after_s
        try:
            for k, offset_s, journey in self.schedule:
                intended_s = t0 + offset_s
                delay_s = intended_s - time.monotonic()
                if delay_s > 0:
                    gevent.sleep(delay_s)
                arrival = Arrival(k, intended_s, journey)
                self.tally.count("scheduled")
                self.outstanding += 1
                self.registrations.put(arrival)
                if journey.pages:
                    self.tally.count("visits")
                    self.outstanding += 1
                    self.visits.put(arrival)
            deadline_s = time.monotonic() + plan.drain_s
            while self.outstanding > 0 and time.monotonic() < deadline_s:
                gevent.sleep(0.05)
        finally:
            self.closed = True
            self._drop_queued()
            report_done({"worker": self.tally.worker, "tally": self.tally.take()})

    def _drop_queued(self) -> None:
        for queue, name in ((self.registrations, "dropped"), (self.visits, "visits_dropped")):
            while True:
                try:
                    queue.get_nowait()
                except Empty:
                    break
                self.tally.count(name)
                self.outstanding -= 1

    # --- the users' side -----------------------------------------------------------------------------------
    def next_arrival(self, queue: Queue[Arrival], late: str, dropped: str) -> Arrival | None:
        """The next arrival for a free user (None after a short wait for one); one too late to be worth
        sending is dropped and counted, one merely late is counted and sent."""
        try:
            arrival = queue.get(timeout=0.5)
        except Empty:
            return None
        lateness_s = time.monotonic() - arrival.intended_s
        if lateness_s > self.plan.drop_after_s:
            self.tally.count(dropped)
            self.outstanding -= 1
            return None
        if lateness_s > self.plan.late_after_s:
            self.tally.count(late)
        return arrival

    def sent(self, sent_s: float) -> None:
        self.tally.count("sent")
        if sent_s <= self.window_end_s:
            self.tally.count("sent_in_window")

    def finished(self) -> None:
        self.outstanding -= 1


class Aggregate:
    """The master's view: the plan it hands out, the totals, which processes are done."""

    def __init__(self, plan: Plan, tally_path: Path | None) -> None:
        self.plan = plan
        self.tally = Tally("total")
        self.tally_path = tally_path
        scenario = plan.scenario()
        self.schedule = Schedule(scenario, plan.time_scale)
        self.expected = 0
        self.done: set[str] = set()

    @property
    def all_done(self) -> bool:
        return self.expected > 0 and len(self.done) >= self.expected

    def users_per_class(self, processes: int) -> int:
        """Users of each class in all: enough in every process for its share of the peak."""
        return processes * users_per_class(self.schedule.peak_rate_per_s / max(1, processes))

    def to_data(self) -> dict[str, Any]:
        return {"tally": self.tally.to_data(), "processes": self.expected, "processes_done": sorted(self.done),
                "window_s": self.schedule.window_s, "time_scale": self.plan.time_scale,
                "mean_rate_per_s": self.schedule.mean_rate_per_s}


class OpenWorkloadShape(LoadTestShape):
    """Pools of idle users sized from the scenario's peak rate, kept while arrivals come; the test stops once
    every process reported done (or a bounded grace after the arrival window ran out). The users do not set
    the pace — the dispatchers do — so the pool size only has to be large enough never to be the bottleneck."""

    def tick(self) -> tuple[int, float] | None:
        runner = self.runner
        if runner is None:
            return None
        aggregate = _aggregates.get(runner.environment)
        if aggregate is None:
            return None
        processes = max(1, runner.worker_count if isinstance(runner, MasterRunner) else 1)
        per_class = aggregate.users_per_class(processes)
        users = pin_users_per_class(runner, per_class)  # relies on Locust's dispatch order (locust_seams.py)
        run_s = self.get_run_time()
        if run_s < aggregate.schedule.window_s:
            return users, float(users)
        if aggregate.all_done or run_s > aggregate.schedule.window_s + aggregate.plan.drain_s + _SHAPE_GRACE_S:
            return None
        return users, float(users)


def session_of(environment: Environment) -> LoadSession | None:
    return _sessions.get(environment)


# --- wiring into Locust's events -------------------------------------------------------------------------------


def add_arguments(parser: Any, **_: Any) -> None:
    group = parser.add_argument_group("stampede", "the scenario's open workload (stampede load sets these)")
    group.add_argument("--stampede-scenario", default="", help="Scenario TOML whose arrivals to send")
    group.add_argument("--stampede-time-scale", type=float, default=0.0,
                       help="Simulated seconds per wall second (default: the scenario's load.time_scale)")
    group.add_argument("--stampede-token", default="", help="emApplicationtoken of the server")
    group.add_argument("--stampede-org", default=DEFAULT_ORG, help="Organization id in the URLs")
    group.add_argument("--stampede-tally", default="", help="Write the totals here as JSON at the end")
    group.add_argument("--stampede-late-after", type=float, default=0.1,
                       help="Wall seconds after its intended time at which a send counts as late")
    group.add_argument("--stampede-drop-after", type=float, default=5.0,
                       help="Wall seconds of lateness after which an arrival is dropped, not sent")
    group.add_argument("--stampede-drain", type=float, default=15.0,
                       help="Wall seconds to wait for answers after the last arrival")


def _plan_from_options(options: Any) -> Plan:
    if not options.stampede_scenario:
        raise SystemExit("loadtests/locustfile.py needs --stampede-scenario FILE (stampede load passes it)")
    scenario = load_scenario(options.stampede_scenario)
    return Plan(scenario_to_toml(portable(scenario)), options.stampede_time_scale or scenario.load.time_scale,
                options.stampede_token, options.stampede_org or DEFAULT_ORG, late_after_s=options.stampede_late_after,
                drop_after_s=options.stampede_drop_after, drain_s=options.stampede_drain)


def install(environment: Environment, **_: Any) -> None:
    """The ``init`` listener: the master (or local runner) hands out plans and adds up; every process that
    generates load runs a dispatcher when its plan arrives."""
    runner = environment.runner
    events = environment.events
    if runner is None:
        return
    if isinstance(runner, MasterRunner):  # bound by now: workers may connect once the runner has read this
        print(f"{MASTER_PORT_LINE}{pin_bound_master_port(runner)}", file=sys.stderr, flush=True)
    if not isinstance(runner, WorkerRunner):
        options = environment.parsed_options
        if options is None:
            raise SystemExit("loadtests/locustfile.py runs from Locust's command line (see README.md)")
        plan = _plan_from_options(options)
        aggregate = Aggregate(plan, Path(options.stampede_tally) if options.stampede_tally else None)
        _aggregates[environment] = aggregate

        def hand_out_plans(environment: Environment, **_: Any) -> None:
            if isinstance(runner, MasterRunner):
                clients = ready_worker_ids(runner)
                aggregate.expected = len(clients)
                for index, client_id in enumerate(clients):
                    share = Plan.from_message({**plan.to_message(), "index": index, "count": len(clients)})
                    runner.send_message(START, share.to_message(), client_id=client_id)
            else:
                aggregate.expected = 1
                runner.send_message(START, plan.to_message())

        def collect_done(environment: Environment, msg: Any, **_: Any) -> None:
            aggregate.tally.merge(msg.data["tally"])
            aggregate.done.add(str(msg.data["worker"]))

        def collect_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
            if "stampede" in data:
                aggregate.tally.merge(data["stampede"])

        def write_totals(environment: Environment, **_: Any) -> None:
            if aggregate.tally_path is not None:
                aggregate.tally_path.write_text(json.dumps(aggregate.to_data()), encoding="utf-8")

        events.test_start.add_listener(hand_out_plans)
        events.worker_report.add_listener(collect_report)
        events.quitting.add_listener(write_totals)
        runner.register_message(DONE, collect_done)

    if not isinstance(runner, MasterRunner):

        def start_dispatcher(environment: Environment, msg: Any, **_: Any) -> None:
            plan = Plan.from_message(msg.data)
            logger.info("stampede: this process sends arrivals k mod %d = %d", plan.count, plan.index)
            session = LoadSession(plan, worker=str(plan.index))
            _sessions[environment] = session
            greenlet = gevent.spawn(session.run, lambda data: runner.send_message(DONE, data))
            greenlet.link_exception(lambda g: logger.error("the stampede dispatcher failed: %r", g.exception))

        def ship_counts(client_id: str, data: dict[str, Any], **_: Any) -> None:
            session = _sessions.get(environment)
            if session is not None:
                data["stampede"] = session.tally.take()

        runner.register_message(START, start_dispatcher)
        if isinstance(runner, WorkerRunner):
            events.report_to_master.add_listener(ship_counts)
