"""The one base of every error a user's mistake can cause, so the command line catches them all in one place
(``stampede.cli``) and answers with one line instead of a traceback. Pure: no imports, so every layer may
raise it.

Errors::

    StampedeError                       base: the message is one line naming the file, option or key, the bad
    │                                   value and a good example
    ├── ScenarioError (ValueError)      simulator/scenario.py: a scenario file or --set override
    │   └── UncertainError              simulator/uncertain.py: an [uncertain] entry, or a draw it makes
    ├── LatencyFileError (ValueError)   simulator/latency.py: a dataverse.latency.* CSV of measurements
    ├── SweepError (ValueError)         simulator/sweep.py: --vary, --slo, --search, --tolerance
    ├── ReplicationsError (ValueError)  simulator/replications.py: --replications, --confidence, --precision…
    ├── SensitivityError (ValueError)   simulator/sensitivity.py: --metric, --method, --trajectories
    ├── ClusterError (RuntimeError)     simulator/engine/cluster.py: --cluster
    ├── ServerError                     simulator/server/errors.py: ConfigurationError, StoreError, ApiError
    ├── ReportError                     reports/errors.py: a run directory that cannot be reported
    ├── LoadError (RuntimeError)        loadtests/runner.py: a step of `stampede load`
    ├── MockError (RuntimeError)        conformance/mock.py: the local mock did not start
    ├── OutDirError (ValueError)        stampede/outdir.py: --out
    ├── ListenError (OSError)           stampede/listen.py: --host, --port
    └── TlsError (ValueError)           stampede/tls.py: serve --tls
"""

from __future__ import annotations

__all__ = ["StampedeError"]


class StampedeError(Exception):
    """A user-facing error: its message is what the command line prints after ``error:``."""
