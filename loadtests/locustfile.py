"""Locust entry point for `stampede load` (and for master/worker runs by hand — see README.md).

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 \
        --stampede-scenario scenarios/live-smoke.toml --stampede-token TOKEN

Thin on purpose: the users are in ``users.py``, the open workload (dispatcher, shape, master/worker messages)
in ``open_workload.py``, what each arrival sends in ``traffic.py``.
"""

import locust  # first: gevent's monkey patching must happen before anything else imports socket or ssl

from loadtests.open_workload import OpenWorkloadShape, add_arguments, install
from loadtests.users import Registrant, Visitor

locust.events.init_command_line_parser.add_listener(add_arguments)
locust.events.init.add_listener(install)

__all__ = ["OpenWorkloadShape", "Registrant", "Visitor"]
