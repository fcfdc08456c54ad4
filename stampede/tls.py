"""`stampede serve --tls`: a certificate for this run, signed by a CA made for it (``trustme``), or the user's own.

Clients that insist on https (Microsoft's Dataverse Python SDK refuses any other base URL, a portal page on
https may load images only over https) trust the run's CA file: ``REQUESTS_CA_BUNDLE`` for Python's requests,
``NODE_EXTRA_CA_CERTS`` for Node, ``SSL_CERT_FILE`` for OpenSSL-based tools. Nothing is installed system-wide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simulator.errors import StampedeError

__all__ = ["TlsFiles", "TlsError", "run_certificate", "own_certificate"]


class TlsError(StampedeError, ValueError):
    """The TLS options cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's certificate chain (PEM)
    key: Path  # its private key (PEM)
    ca: Path | None = None  # the CA that signed it, for clients to trust (None: the user's own certificate)


def run_certificate(directory: Path, host: str) -> TlsFiles:
    """A CA and a server certificate for ``host``, ``localhost``, 127.0.0.1 and ::1, written to ``directory``
    (made if absent; earlier files replaced: each run has its own CA)."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="Stampede serve (this run only)")
    names = list(dict.fromkeys([host, "localhost", "127.0.0.1", "::1"]))
    server = ca.issue_cert(*names)
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    server.private_key_pem.write_to_path(str(files.key))
    server.cert_chain_pems[0].write_to_path(str(files.cert))
    for extra in server.cert_chain_pems[1:]:
        with files.cert.open("ab") as chain:
            chain.write(extra.bytes())
    assert files.ca is not None
    ca.cert_pem.write_to_path(str(files.ca))
    files.key.chmod(0o600)
    return files


def own_certificate(cert: Path | None, key: Path | None) -> TlsFiles:
    """The user's ``--tls-cert`` and ``--tls-key``: both, each a readable file."""
    if cert is None or key is None:
        raise TlsError("--tls-cert and --tls-key go together, e.g. --tls-cert server.pem --tls-key server.key")
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise TlsError(f"{option} {path}: no such file; give a PEM file, e.g. {option} server.pem")
    return TlsFiles(cert, key)
