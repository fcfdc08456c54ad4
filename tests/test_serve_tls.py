"""`stampede serve --tls`: https with a certificate made for the run, its CA printed for clients to trust; or
the user's own certificate (``--tls-cert``/``--tls-key``)."""

from __future__ import annotations

import re
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
import trustme
from live_support import STAMPEDE, ServeProcess

pytestmark = pytest.mark.slow


def _ca_file(server: ServeProcess) -> Path:
    match = re.search(r"TLS CA\s+(\S+)", server.stderr())
    assert match, server.stderr()
    return Path(match.group(1))


def test_tls_serves_https_that_a_client_trusting_the_printed_ca_accepts(tmp_path: Path) -> None:
    server = ServeProcess(tmp_path / "serve.db", tmp_path / "serve", "--tls")
    try:
        assert server.url.startswith("https://127.0.0.1:")
        ca = _ca_file(server)
        assert f"REQUESTS_CA_BUNDLE={ca}" in server.stderr() and f"NODE_EXTRA_CA_CERTS={ca}" in server.stderr()
        trusting = ssl.create_default_context(cafile=str(ca))
        answer = httpx.get(server.api("events/published"), verify=trusting, timeout=10)
        assert answer.status_code == 200 and answer.json()
        # absolute image URLs name the scheme the portal used: https, as the RTM SDK sample requires
        event = answer.json()[0]
        speakers = httpx.get(server.api(f"events/{event['readableEventId']}/speakers"), verify=trusting, timeout=10)
        assert event["image"].startswith(server.url + "/")
        assert speakers.json() and all(s["imageUrl"].startswith(server.url + "/") for s in speakers.json())
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(server.api("events/published"), timeout=10)  # the system's CAs do not know this one
        with pytest.raises(httpx.RemoteProtocolError):  # plain http on the https port gets no answer
            httpx.get(server.api("events/published").replace("https://", "http://"), timeout=10)
    finally:
        server.stop()


def test_own_certificate_is_served_and_bad_tls_options_are_refused_in_one_line(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    server = ServeProcess(tmp_path / "own.db", tmp_path / "own", "--tls-cert", str(tmp_path / "cert.pem"),
                          "--tls-key", str(tmp_path / "key.pem"))
    try:
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        assert httpx.get(server.api("events/published"), verify=context, timeout=10).status_code == 200
        assert "TLS CA" not in server.stderr()  # the user's own CA is theirs to trust
    finally:
        server.stop()
    other = trustme.CA().issue_cert("127.0.0.1")
    other.private_key_pem.write_to_path(str(tmp_path / "other.key"))
    for args, says in ((["--tls-cert", str(tmp_path / "cert.pem")], "--tls-cert and --tls-key go together"),
                       (["--tls", "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")],
                        "--tls makes a certificate"),
                       (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(tmp_path / "key.pem")],
                        "no such file"),
                       (["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "other.key")],
                        "cannot serve https")):
        done = subprocess.run([str(STAMPEDE), "serve", "--port", "0", "--db", str(tmp_path / "bad.db"), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
