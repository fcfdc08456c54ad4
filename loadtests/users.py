"""The two kinds of people in a registration surge, as Locust users that take arrivals from the dispatcher.

- :class:`Visitor`: loads the portal's catalog pages around a registration — the published events, the event,
  then its sessions, speakers (and a speaker's image), sponsorships (and a logo), passes, tracks, the live count.
- :class:`Registrant`: submits the registration — an event, session, waitlist or paid (with a pass) request for
  a generated attendee.

Neither paces itself: each waits for the next arrival its process's dispatcher releases (see
``open_workload``), so the arrival rate is the scenario's, not a function of how fast the server answers.
"""

from __future__ import annotations

import time

import gevent
from locust import FastHttpUser, constant, task

from loadtests import traffic
from loadtests.open_workload import LoadSession, session_of

__all__ = ["Visitor", "Registrant"]

_JSON = {"Content-Type": "application/json"}


class _ArrivalUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)  # the dispatcher sets the pace; a user only waits for the next arrival
    network_timeout = 30.0
    connection_timeout = 10.0

    def session(self) -> LoadSession | None:
        session = session_of(self.environment)
        if session is None or session.closed:
            gevent.sleep(0.1)  # the plan has not arrived yet, or this process is done
            return None
        return session


class Registrant(_ArrivalUser):
    """Submits one registration per arrival; a 429 from the designed limiter counts as throttled, not failed."""

    @task
    def register(self) -> None:
        session = self.session()
        arrival = session.next_arrival(session.registrations, "late", "dropped") if session else None
        if session is None or arrival is None:
            return
        try:
            journey = arrival.journey
            plan = session.plan
            body = traffic.encode(traffic.registration_body(journey, arrival.k, session.seed, session.repeat_share,
                                                            session.consent_purposes))
            path = traffic.registration_path(plan.org, journey.event.readable_id, plan.token)
            name = f"POST registration ({traffic.registration_kind(journey)})"
            sent_s = time.monotonic()
            session.sent(sent_s)
            submission_id = None
            with self.client.post(path, data=body, headers=_JSON, name=name, catch_response=True) as response:
                status = response.status_code or 0
                outcome = traffic.classify(status)
                if outcome == "failed":
                    response.failure(f"{status} {(response.text or '')[:200]}")
                else:
                    response.success()  # a designed answer of the model, counted below by outcome
                if outcome == "accepted":
                    submission_id = traffic.submission_id_from(response.headers.get("Location"))
            done_s = time.monotonic()
            session.tally.count(f"http_{status}")
            session.tally.registration(outcome, (done_s - sent_s) * 1000, (done_s - arrival.intended_s) * 1000,
                                       submission_id)
        finally:
            session.finished()


class Visitor(_ArrivalUser):
    """Loads an arrival's catalog pages one after another, as a browser does before the form is sent."""

    @task
    def browse(self) -> None:
        session = self.session()
        arrival = session.next_arrival(session.visits, "visits_late", "visits_dropped") if session else None
        if session is None or arrival is None:
            return
        try:
            plan = session.plan
            started_s = time.monotonic()
            behind_s = max(0.0, started_s - arrival.intended_s)  # every page of a late visit is that much later
            for page in traffic.visit(arrival.journey, arrival.k, session.seed, plan.org, plan.token):
                sent_s = time.monotonic()
                with self.client.get(page.path, name=page.name, catch_response=True) as response:
                    ok = response.status_code == 200
                    if ok:
                        response.success()
                    else:
                        response.failure(f"{response.status_code} {(response.text or '')[:200]}")
                done_s = time.monotonic()
                session.tally.count("pages")
                if not ok:
                    session.tally.count("pages_failed")
                session.tally.latency("page", (done_s - sent_s) * 1000)
                session.tally.latency("page_from_intended", (done_s - sent_s + behind_s) * 1000)
        finally:
            session.finished()
