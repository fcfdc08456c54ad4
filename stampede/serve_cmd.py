"""`stampede serve`: the reference mock of the event API on a real socket, driven by the live model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulator.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from simulator.server.errors import ConfigurationError
from stampede import console
from stampede.listen import ListenError, bind_listener, check_port
from stampede.tls import TlsError, TlsFiles, own_certificate, run_certificate

#: How long a client has to send a request's headers and body (uvicorn has no such limit: a client sending a
#: byte at a time held a connection for ever). nginx allows 60 s between two reads of the headers or the body;
#: 30 s for the whole request is an assumption, far above any browser's or Locust's need on a live connection.
READ_TIMEOUT_S = 30.0


def serve(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario TOML (catalog, API, Dataverse); "
                                                         "default: built-in defaults.")] = None,
    host: Annotated[str, typer.Option(help="Address to bind; non-loopback needs the admin token for /_harness.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on, 1–65535 (0 = any free port).")] = 8000,
    time_scale: Annotated[float, typer.Option(help="Simulated seconds per wall second (60: a 5-minute window "
                                                    "passes in 5 s).")] = 1.0,
    db: Annotated[Path, typer.Option(help="SQLite file for accepted submissions and created records; "
                                          "reuse it to resume pending work.")] = Path("stampede-serve.db"),
    org: Annotated[str | None, typer.Option(help="Organization id in the URLs (default: a development id).")] = None,
    token: Annotated[str | None, typer.Option(help="emApplicationtoken (default: generated and printed).")] = None,
    origin: Annotated[list[str] | None, typer.Option(help="The web application's origin, for CORS (default "
                                                          "http://localhost:5173); repeat for more dev servers, "
                                                          "e.g. --origin http://localhost:3000 --origin "
                                                          "http://localhost:5173.")] = None,
    images_need_token: Annotated[bool, typer.Option(help="Refuse speaker images, sponsor logos and QR codes "
                                                          "without emApplicationtoken (default: served without "
                                                          "it, as portals load them in <img src>).")] = False,
    admin_token: Annotated[str | None, typer.Option(help="Bearer token for /_harness and /metrics.")] = None,
    out: Annotated[Path | None, typer.Option(help="On shutdown, write a live run directory here.")] = None,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body accepted; larger ones get 413.")]
    = 64 * 1024,
    read_timeout: Annotated[float, typer.Option(help="Seconds a client has to send a request's headers and body; "
                                                     "past it the connection is closed.")] = READ_TIMEOUT_S,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a scenario key (repeatable).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the run in an existing --out directory.")] = False,
    tls: Annotated[bool, typer.Option(help="Serve https with a certificate made for this run (its CA file is "
                                           "printed: REQUESTS_CA_BUNDLE=…, NODE_EXTRA_CA_CERTS=…).")] = False,
    tls_cert: Annotated[Path | None, typer.Option(help="Serve https with your own certificate (PEM; with "
                                                       "--tls-key).")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The private key of --tls-cert (PEM).")] = None,
    dataverse_token: Annotated[list[str] | None, typer.Option(help="A bearer token the Dataverse Web API face "
                                                                   "(/api/data/v9.2/) accepts; repeat for more. "
                                                                   "Default: any token, each naming its app "
                                                                   "user.")] = None,
) -> None:
    """Serve the event API mock until interrupted (Ctrl-C)."""
    import uvicorn

    from simulator.server.live import LiveEventModel
    from simulator.server.serve import build_served
    from simulator.server.uvicorn_seams import http_protocol

    try:
        check_port(port)
    except ListenError as exc:
        console.fail(str(exc))
    if not read_timeout > 0:
        console.fail(f"--read-timeout {read_timeout}: give the seconds a client has to send a request, e.g. 30")
    try:
        resolved: Scenario = (load_scenario(scenario, list(set_ or [])) if scenario is not None
                              else parse_scenario(_defaults(set_), "--set"))
    except ScenarioError as exc:
        console.fail(str(exc))

    def write_run(_model: LiveEventModel) -> None:
        if out is not None:
            run_dir = console.run_directory(out, resolved.name)
            console.write_files(run_dir, served.run_files())  # served: bound below, before the server runs
            console.err.print(f"live run directory: {run_dir}")

    console.check_out(out, force)
    try:
        certificate = _certificate(tls, tls_cert, tls_key, db, host)
    except TlsError as exc:
        console.fail(str(exc))
    # Bind first: a busy port or a bad address is reported before the store (the --db file) exists.
    try:
        listener = bind_listener(host, port)
    except ListenError as exc:
        console.fail(str(exc))
    try:
        served = build_served(resolved, db_path=db, time_scale=time_scale, host=host, org_id=org, token=token,
                              origin=list(origin or []), admin_token=admin_token, on_stop=write_run,
                              images_need_token=images_need_token, dataverse_tokens=list(dataverse_token or []),
                              max_body_bytes=max_body_bytes, run_record=out is not None)
    except ConfigurationError as exc:
        listener.close()
        console.fail(str(exc))
    config = uvicorn.Config(served.app, host=host, port=port, log_level="warning", access_log=False,
                            timeout_keep_alive=KEEP_ALIVE_S, http=http_protocol(read_timeout),
                            ssl_certfile=certificate.cert if certificate else None,
                            ssl_keyfile=certificate.key if certificate else None)
    try:
        config.load()
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a key that does not match, a bad PEM
        listener.close()
        served.store.close()
        console.fail(f"--tls-cert/--tls-key: cannot serve https with them ({exc})")
    server = uvicorn.Server(config)
    console.print_serving(served, host, port, db, time_scale, server, ca_file=certificate.ca if certificate else None)
    server.run(sockets=[listener])


#: How long an idle keep-alive connection stays open (uvicorn's default is 5 s). A client that sends on a
#: connection the server is closing at that moment gets no answer at all (status 0 in Locust): a load whose
#: users pause more than 5 s between arrivals saw it. The real API's value is undocumented; 75 s (nginx's
#: default) is an assumption, longer than any pause between one portal user's requests in the shipped loads.
KEEP_ALIVE_S = 75


def _certificate(tls: bool, cert: Path | None, key: Path | None, db: Path, host: str) -> TlsFiles | None:
    """The run's certificate (``--tls``: made next to the database, in ``<db>.tls/``), the user's own, or none."""
    if cert is not None or key is not None:
        if tls:
            raise TlsError("--tls makes a certificate for the run; with your own give only --tls-cert and --tls-key")
        return own_certificate(cert, key)
    if not tls:
        return None
    return run_certificate(db.parent / f"{db.name}.tls", host)


def _defaults(overrides: list[str] | None) -> dict[str, object]:
    from simulator.scenario import apply_overrides

    return apply_overrides({"name": "serve"}, list(overrides or []))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
