"""Locust load tests driven by a scenario's open workload, and the runner behind `stampede load`.

Modules that import Locust (and with it gevent's monkey patching) are only ``locustfile``, ``open_workload``
and ``users``; ``traffic``, ``tally``, ``outcome`` and ``runner`` are plain Python, safe to import anywhere.
"""

from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# A Locust master started with ``--master-bind-port 0`` says the port it bound on one line of its output, this
# text then the port; ``runner`` reads it back (kept here, not in a module that imports Locust: see above)
MASTER_PORT_LINE = "stampede: Locust master listening on port "
