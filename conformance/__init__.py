"""Contract conformance for the event API: the published OpenAPI contract and Schemathesis over it.

    event-api.openapi.json   the contract (OpenAPI 3.1), generated from the mock's schema
                             (python -m conformance.generate)
    generate.py              writes / checks that file
    checks.py                custom checks (Retry-After, CORS, token, counts, business refusals)
    config.py                the Schemathesis configuration every run shares
    mock.py                  a loopback mock (``stampede serve`` as a subprocess) for runs that need one
    runner.py                a run over HTTP against any base URL → a Report
    report.py                the Report's human summary and JUnit XML

``conformance`` may import ``simulator``; ``simulator`` never imports ``conformance``.
"""
