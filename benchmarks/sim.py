"""Speed of the virtual-time model: a million submissions, against bare SimPy measured in the same run.

Prints simulated submissions per wall-second, model SimPy events per wall-second, and two ratios: the
latter to a bare SimPy timeout loop (the floor: SimPy doing nothing but scheduling), and the model's
submissions per second to a minimal SimPy pipeline doing the same work (:func:`minimal_pipeline`), both
measured in the same process. Absolute times drift on shared machines; the ratios are the figures to compare
across runs (CPU seconds beside wall seconds: on a loaded machine, the CPU ratio is the steadier one).

    .venv/bin/python benchmarks/sim.py [--submissions 1000000] [--repeat-floor 3] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import deque
from statistics import NormalDist

import simpy

from simulator.engine.virtual import run_virtual
from simulator.scenario import parse_scenario


def bare_simpy_events_per_s(events: int = 1_000_000, processes: int = 4) -> float:
    """SimPy's floor: ``events`` timeouts of 1 from ``processes`` processes, events per wall-second."""
    env = simpy.Environment()

    def ticker(count: int):  # type: ignore[no-untyped-def]
        for _ in range(count):
            yield env.timeout(1)

    for _ in range(processes):
        env.process(ticker(events // processes))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


Z_99 = 2.3263478740408408  # standard normal quantile at 0.99


def minimal_pipeline(submissions: int, *, rate_per_s: float = 50.0, instances: int = 4, processors: int = 64,
                     users: int = 6, servers: int = 2, events: int = 20, pages: int = 4, ttl_s: float = 600.0,
                     calls: int = 3, requests_limit: int = 6000, window_s: float = 300.0,
                     all_limits: bool = False, execution_limit_s: float = 1200.0, concurrency_limit: int = 52,
                     mix: tuple[float, float] = (0.7, 0.95), sessions: int = 6, sessions_named: int = 2,
                     confirmations_per_min: int = 2500, confirmation: tuple[float, float] = (180.0, 300.0),
                     confirmation_max_s: float = 1800.0,
                     ) -> tuple[float, float]:
    """The floor for the model: the same work as :func:`million_scenario`, written as plainly as SimPy allows.

    Poisson arrivals, each of a kind drawn from the model's default mix (``mix``: cumulative shares of event and
    session registrations, the rest waitlist); per API instance a TTL dict of catalog entries looked up for
    each page, the event and each session named (a miss just refills it); a FIFO ``simpy.Store``; P
    processors, processor i acting as user i mod U; three calls each (five for a session registration naming
    two sessions) through an exact sliding-log request limiter per (user, server) key, servers round-robin;
    log-normal service times (median 60 ms, p99 600 ms); a throttled call waits its Retry-After and tries
    again; once created, a confirmation email after a log-normal latency (P90 3 min, P95 5 min, cut at 30 min)
    from a start no more than ``confirmations_per_min`` a minute — a timeout each, as the model's confirmation
    journey (its defaults). It records nothing. Returns (wall seconds, CPU seconds) of ``env.run``.

    ``all_limits``: each key also enforces the other two limits the model's ``KeyLimiter`` does — execution
    time (an exact sliding log of charged seconds) and concurrent requests — so the floor does all of the
    limiting work the model does (a second figure beside the issue's floor, not a replacement)."""
    env = simpy.Environment()
    rng = random.Random(1)
    store = simpy.Store(env)
    caches: list[dict[tuple[str, int], float]] = [{} for _ in range(instances)]
    logs = [[deque[float]() for _ in range(servers)] for _ in range(users)]
    charged = [[deque[tuple[float, float]]() for _ in range(servers)] for _ in range(users)]
    charged_s = [[0.0] * servers for _ in range(users)]
    in_flight = [[0] * servers for _ in range(users)]
    next_server = [user % servers for user in range(users)]
    mu, sigma = math.log(0.060), math.log(0.600 / 0.060) / Z_99
    keys = [[(kind, e) for kind in ("published", "event", "sessions", "speakers", "sponsorships")]
            for e in range(events)]
    session_keys = [[("session", e, s) for s in range(sessions)] for e in range(events)]
    confirm_rng = random.Random(2)
    z90, z95 = NormalDist().inv_cdf(0.90), NormalDist().inv_cdf(0.95)
    confirm_sigma = math.log(confirmation[1] / confirmation[0]) / (z95 - z90)
    confirm_mu = math.log(confirmation[0]) - z90 * confirm_sigma
    recent_starts = deque[float](maxlen=confirmations_per_min)

    def arrivals():  # type: ignore[no-untyped-def]
        for number in range(submissions):
            yield env.timeout(rng.expovariate(rate_per_s))
            now = env.now
            cache = caches[number % instances]
            event = int(rng.random() * events)
            event_keys = keys[event]
            kind = rng.random()
            named = (tuple(session_keys[event][s] for s in rng.sample(range(sessions), sessions_named))
                     if mix[0] <= kind < mix[1] else ())
            for key in [event_keys[int(rng.random() * 5)] for _ in range(pages)] + [event_keys[1], *named]:
                expires_s = cache.get(key)
                if expires_s is None or expires_s <= now:
                    cache[key] = now + ttl_s
            store.put(calls + len(named))

    def confirm(now: float) -> None:
        start_s = max(now, recent_starts[-1]) if recent_starts else now
        if len(recent_starts) == confirmations_per_min:
            start_s = max(start_s, recent_starts[0] + 60.0)
        recent_starts.append(start_s)
        latency_s = min(confirm_rng.lognormvariate(confirm_mu, confirm_sigma), confirmation_max_s)
        env.timeout(start_s - now + latency_s)

    def processor(user: int):  # type: ignore[no-untyped-def]
        while True:
            item_calls = yield store.get()
            for _ in range(item_calls):
                while True:
                    server = next_server[user]
                    next_server[user] = (server + 1) % servers
                    log = logs[user][server]
                    now = env.now
                    while log and log[0] + window_s <= now:
                        log.popleft()
                    if len(log) >= requests_limit:
                        yield env.timeout(max(1, math.ceil(log[0] + window_s - now)))  # Retry-After
                        continue
                    service_s = math.exp(rng.gauss(mu, sigma))
                    if all_limits:
                        spent = charged[user][server]
                        while spent and spent[0][0] + window_s <= now:
                            charged_s[user][server] -= spent.popleft()[1]
                        if in_flight[user][server] >= concurrency_limit:
                            yield env.timeout(1)
                            continue
                        if charged_s[user][server] + service_s > execution_limit_s:
                            yield env.timeout(max(1, math.ceil(spent[0][0] + window_s - now)))
                            continue
                        spent.append((now, service_s))
                        charged_s[user][server] += service_s
                        in_flight[user][server] += 1
                    log.append(now)
                    yield env.timeout(service_s)
                    if all_limits:
                        in_flight[user][server] -= 1
                    break
            confirm(env.now)

    env.process(arrivals())
    for index in range(processors):
        env.process(processor(index % users))
    wall, cpu = time.perf_counter(), time.process_time()
    env.run()
    return time.perf_counter() - wall, time.process_time() - cpu


def model_against_minimal(submissions: int, repeat: int = 1) -> dict[str, float]:
    """Submissions per second of the model's run and of :func:`minimal_pipeline`, wall and CPU, same process:
    the two alternate ``repeat`` times and the best of each counts, so a burst of load on a shared machine
    during one of them does not decide the ratio."""
    model_wall, model_cpu, minimal_wall, minimal_cpu, limits_wall, limits_cpu = [], [], [], [], [], []
    for _ in range(repeat):
        cpu = time.process_time()
        run = run_virtual(million_scenario(submissions))
        model_cpu.append(time.process_time() - cpu)
        model_wall.append(run.wall_s)
        wall_s, cpu_s = minimal_pipeline(submissions)
        minimal_wall.append(wall_s)
        minimal_cpu.append(cpu_s)
        wall_s, cpu_s = minimal_pipeline(submissions, all_limits=True)
        limits_wall.append(wall_s)
        limits_cpu.append(cpu_s)
    offered = run.summary["submissions"]["offered"]
    found = {
        "model_per_wall_s": offered / min(model_wall), "model_per_cpu_s": offered / min(model_cpu),
        "minimal_per_wall_s": submissions / min(minimal_wall), "minimal_per_cpu_s": submissions / min(minimal_cpu),
        "run_wall_s": min(model_wall), "events": run.events, "offered": offered,
        "created": run.summary["submissions"]["created"], "pending": run.summary["submissions"]["pending"],
        "simulated_s": run.simulated_s,
    }
    found["ratio_wall"] = found["model_per_wall_s"] / found["minimal_per_wall_s"]
    found["ratio_cpu"] = found["model_per_cpu_s"] / found["minimal_per_cpu_s"]
    found["limits_per_cpu_s"] = submissions / min(limits_cpu)
    found["ratio_limits_cpu"] = found["model_per_cpu_s"] / found["limits_per_cpu_s"]
    return found


def million_scenario(submissions: int):  # type: ignore[no-untyped-def]
    """Constant 50/s until ``submissions`` have arrived, on 12 keys (ceiling ≈ 68/s), so it drains in time."""
    rate_per_s = 50
    return parse_scenario({
        "name": "bench-million",
        "horizon": "12h",
        "bin": "60s",
        "catalog": {"events": 20, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": rate_per_s, "duration": f"{submissions / rate_per_s * 1.1:.0f}s",
                     "total": submissions, "browse_per_submission": 4},
        "api": {"instances": 4, "processors": 64},
        "dataverse": {"app_users": 6, "web_servers": 2, "affinity": False},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--repeat-floor", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="model and minimal pipeline alternate this often")
    args = parser.parse_args()

    floors = [bare_simpy_events_per_s() for _ in range(args.repeat_floor)]
    found = model_against_minimal(args.submissions, args.repeat)
    floors.append(bare_simpy_events_per_s())
    floor = max(floors)
    events_per_s = found["events"] / found["run_wall_s"]
    print(f"submissions offered      {found['offered']:>12,}  "
          f"(created {found['created']:,}, pending {found['pending']:,})")
    print(f"simulated                {found['simulated_s'] / 3600:>12.2f} h")
    print(f"wall                     {found['run_wall_s']:>12.1f} s   (target < 60 s; best of {args.repeat})")
    print(f"submissions / wall-s     {found['model_per_wall_s']:>12,.0f}")
    print(f"model SimPy events       {found['events']:>12,}  "
          f"({found['events'] / max(found['offered'], 1):.1f} per submission)")
    print(f"model events / wall-s    {events_per_s:>12,.0f}")
    print(f"bare SimPy timeouts / s  {floor:>12,.0f}  (best of {len(floors)}, same run)")
    print(f"ratio model / bare       {events_per_s / floor:>12.2f}   (target >= 0.35)")
    print(f"minimal pipeline / wall-s{found['minimal_per_wall_s']:>13,.0f}  (same work, records nothing; same run)")
    print(f"ratio model / minimal    {found['ratio_wall']:>12.2f}   (wall; target >= 0.75)")
    print(f"ratio model / minimal    {found['ratio_cpu']:>12.2f}   (CPU seconds)")
    print(f"minimal, all three limits{found['limits_per_cpu_s']:>13,.0f}  /CPU-s (+ execution and concurrency "
          "limits per key, as the model's)")
    print(f"ratio model / that       {found['ratio_limits_cpu']:>12.2f}   (CPU seconds)")


if __name__ == "__main__":
    main()
