"""A loopback mock of the event API for a conformance run: ``stampede serve --port 0`` as a child process.

The child binds 127.0.0.1 on a free port and prints ``READY http://127.0.0.1:PORT`` once it listens; the
mock's SQLite file lives in a temporary folder removed on stop. ``stop()`` (also run at interpreter exit)
terminates the child by its PID, waits for its graceful shutdown, and kills it if that takes too long.
"""

from __future__ import annotations

import atexit
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from simulator.errors import StampedeError
from simulator.server.serve import DEV_ORG, DEV_ORIGIN

__all__ = ["LocalMock", "MockError", "start_mock"]

_READY = "READY "
# The command line, run as a child of this interpreter so it uses the same environment.
_STAMPEDE = (sys.executable, "-c", "from stampede.cli import main; main()")


class MockError(StampedeError, RuntimeError):
    """The local mock did not start; the message carries what it printed."""


@dataclass
class LocalMock:
    """A running mock: where it listens and what it was started with."""

    url: str
    token: str
    org_id: str
    origin: str
    process: subprocess.Popen[str]
    folder: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the child (by PID), wait for it, and remove its folder; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_mock(
    *,
    scenario: Path | None = None,
    time_scale: float = 1.0,
    token: str | None = None,
    settings: tuple[str, ...] = (),
    startup_timeout_s: float = 60.0,
) -> LocalMock:
    """Start ``stampede serve`` on a free loopback port and wait (at most ``startup_timeout_s``) until it listens."""
    token = token or secrets.token_urlsafe(18)
    folder = Path(tempfile.mkdtemp(prefix="stampede-conform-"))
    command = [*_STAMPEDE, "serve"]
    if scenario is not None:
        command.append(str(scenario))
    command += ["--host", "127.0.0.1", "--port", "0", "--db", str(folder / "mock.db"), f"--token={token}",
                "--org", DEV_ORG, "--origin", DEV_ORIGIN, "--time-scale", str(time_scale)]
    for setting in settings:
        command += ["--set", setting]
    stderr_path = folder / "mock.log"
    with stderr_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                   text=True, bufsize=1)
    mock = LocalMock(url="", token=token, org_id=DEV_ORG, origin=DEV_ORIGIN, process=process, folder=folder)
    atexit.register(mock.stop)
    try:
        mock.url = _wait_until_ready(process, startup_timeout_s)
    except MockError as exc:
        output = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        mock.stop()
        raise MockError(f"{exc}\n{output}".rstrip()) from None
    return mock


def _wait_until_ready(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=min(left, 0.5)):
                if process.poll() is not None:
                    raise MockError(f"stampede serve exited with code {process.returncode} before it was ready")
                continue
            line = process.stdout.readline()
            if not line:
                process.wait(timeout=5)
                raise MockError(f"stampede serve exited with code {process.returncode} before it was ready")
            if line.startswith(_READY):
                return line[len(_READY):].strip()
    raise MockError(f"stampede serve was not ready within {timeout_s:g} s")

