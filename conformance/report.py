"""A conformance ``Report`` for people (a plain-text summary) and for CI (JUnit XML, one test case per operation)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.runner import Finding, OperationResult, Report

__all__ = ["summary_text", "junit_xml", "short_label"]

_BASE = "/api/v1.0/orgs/{organizationId}/eventmanagement"


def short_label(label: str) -> str:
    """``POST /api/v1.0/orgs/{organizationId}/eventmanagement/checkins`` → ``POST …/checkins``."""
    return label.replace(_BASE, "…")


def _statuses(result: OperationResult) -> str:
    return " ".join(f"{status}×{count}" for status, count in sorted(result.statuses.items()))


def _verdict(result: OperationResult) -> str:
    if result.findings or result.errors:
        return "FAIL"
    return "ok" if result.requests else "untested"


def _finding_text(finding: Finding) -> str:
    seen = f", seen {finding.occurrences}×" if finding.occurrences > 1 else ""
    status = f"status {finding.status_code}" if finding.status_code is not None else "no response"
    message = "\n".join(f"   {line}" for line in finding.message.splitlines())
    reproduce = "\n".join(f"     {line}" for line in finding.reproduce.splitlines())
    return (f"{short_label(finding.operation)} — {finding.check}: {finding.title} ({status}{seen})\n{message}\n"
            f"   reproduce:\n{reproduce}")


def summary_text(report: Report) -> str:
    """What a person reads after a run: the target, the totals, one line per operation, then every failure."""
    target = report.target
    where = f"{target.base_url} ({target.description})" if target.description else target.base_url
    passed = sum(r.checks_passed for r in report.operations.values())
    failed = sum(r.checks_failed for r in report.operations.values())
    lines = [
        f"Conformance of {where} to {report.contract}",
        f"{len(report.operations)} operations, {report.tested} tested · {report.requests:,} requests · "
        f"{passed:,} checks passed, {failed:,} failed · {report.elapsed_s:.1f} s · seed {report.seed} · "
        f"at most {report.max_examples} examples per operation",
        "ids from the target: " + (", ".join(f"{len(v)} {k}" for k, v in report.known_ids.items())
                                   or "none found (random ids only: expect mostly 404s)"),
        "",
    ]
    width = max(len(short_label(label)) for label in report.operations) if report.operations else 10
    lines.append(f"  {'result':<9}{'operation':<{width}}  {'requests':>8}  answers")
    for label, result in report.operations.items():
        lines.append(f"  {_verdict(result):<9}{short_label(label):<{width}}  {result.requests:>8}  {_statuses(result)}")
    findings = report.findings
    errors = list(dict.fromkeys(report.errors + [f"{short_label(r.label)}: {e}" for r in report.operations.values()
                                                 for e in r.errors]))  # distinct, in order
    if findings:
        lines += ["", f"{len(findings)} failure{'s' if len(findings) != 1 else ''}:"]
        lines += [f"{n}. {_finding_text(finding)}" for n, finding in enumerate(findings, 1)]
    if errors:
        lines += ["", f"{len(errors)} error{'s' if len(errors) != 1 else ''} (the run could not check everything):"]
        lines += [f"- {error}" for error in errors]
    if report.tested == 0 and not errors:
        lines += ["", "no operation was tested"]
    if report.passed:
        verdict = "PASSED: the API honours the contract"
    elif findings:
        verdict = "FAILED: the API breaks the contract"
    else:
        verdict = "FAILED: the run could not check the contract (see the errors above)"
    lines += ["", verdict]
    return "\n".join(lines)


def junit_xml(report: Report) -> str:
    """JUnit XML: one ``<testcase>`` per operation of the contract; its failures (with curl) in ``<failure>``."""
    findings = report.findings
    failed_cases = sum(1 for r in report.operations.values() if r.findings)
    errored_cases = sum(1 for r in report.operations.values() if r.errors and not r.findings)
    skipped = sum(1 for r in report.operations.values() if not r.requests and r.ok)
    tests = len(report.operations) + (1 if report.errors else 0)  # run-level errors get a case of their own
    suites = ET.Element("testsuites", name="stampede conform", tests=str(tests),
                        failures=str(failed_cases), errors=str(errored_cases + len(report.errors)),
                        time=f"{report.elapsed_s:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="event API conformance", tests=str(tests),
                          failures=str(failed_cases), errors=str(errored_cases + len(report.errors)),
                          skipped=str(skipped),
                          time=f"{report.elapsed_s:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("target", report.target.base_url), ("contract", report.contract),
                        ("seed", str(report.seed)), ("max_examples", str(report.max_examples)),
                        ("findings", str(len(findings)))):
        ET.SubElement(properties, "property", name=name, value=value)
    for label, result in report.operations.items():
        case = ET.SubElement(suite, "testcase", classname=f"event-api.{result.operation_id or 'operation'}",
                             name=label, time=f"{result.elapsed_s:.3f}")
        if result.findings:
            checks = sorted({finding.check for finding in result.findings})
            failure = ET.SubElement(case, "failure", type="contract",
                                    message=f"{len(result.findings)} failure(s): {', '.join(checks)}")
            failure.text = "\n\n".join(_finding_text(finding) for finding in result.findings)
        if result.errors:
            error = ET.SubElement(case, "error", type="run", message=result.errors[0][:200])
            error.text = "\n".join(result.errors)
        if not result.requests and result.ok:
            ET.SubElement(case, "skipped", message=result.skipped or "not reached in this run")
        out = ET.SubElement(case, "system-out")
        out.text = f"{result.requests} requests; answers {_statuses(result) or 'none'}"
    if report.errors:
        run = ET.SubElement(suite, "testcase", classname="event-api", name="run")
        error = ET.SubElement(run, "error", type="run", message=report.errors[0][:200])
        error.text = "\n".join(report.errors)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
