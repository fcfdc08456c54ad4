"""write_report and `stampede report`: one self-contained report.html per run, comparisons with the best marked."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from fixtures_runs import make_run
from matplotlib import image as mpimg
from typer.testing import CliRunner

import reports
from reports.html import environment
from stampede import report_cmd

pytestmark = pytest.mark.slow  # renders whole reports: simulated runs and every figure as PNG

ROOT = Path(__file__).resolve().parents[1]

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def decode_images(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMG.findall(html)]


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run_dir = make_run(
        tmp_path_factory.mktemp("single"),
        "email-blast-20250101T090000",
        description="Blast <script>alert('x')</script> & more",
    )
    report = reports.write_report([run_dir])
    return report, report.read_text(encoding="utf-8")


def test_single_run_report_is_written_into_the_run_directory(single: tuple[Path, str]) -> None:
    report, _ = single
    assert report.name == "report.html"
    for slug in ("cumulative", "throughput", "throttling", "cache", "latency"):
        png = report.parent / f"{slug}.png"
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_headline_table_comes_first_then_verdict_then_figures(single: tuple[Path, str]) -> None:
    _, html = single
    positions = [html.index(marker) for marker in ('id="headline"', 'id="verdict"', 'id="figures"')]
    assert positions == sorted(positions)
    assert '<table class="headline">' in html
    created = json.loads((single[0].parent / "summary.json").read_text())["submissions"]["created"]
    assert f"<td>Created</td><td>{created:,}</td>" in html
    assert "binds" in html[positions[1] : positions[2]]


def test_one_embedded_png_per_figure_each_with_a_caption(single: tuple[Path, str]) -> None:
    _, html = single
    images = decode_images(html)
    assert len(images) == html.count("<img ") == html.count("<figcaption>") == 5
    for png in images:
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 300 and pixels.shape[1] > 600


def test_report_is_self_contained_and_escaped(single: tuple[Path, str]) -> None:
    _, html = single
    assert "<script" not in html  # the description's tag is shown as text, not run
    assert re.search(r"Blast &lt;script&gt;alert\((&#x27;|&#39;)x(&#x27;|&#39;)\)&lt;/script&gt; &amp; more", html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@import" not in html and "url(" not in html


def test_templates_autoescape_every_value(tmp_path: Path) -> None:
    # A run name and a variant label are user text too: a directory called <b>…</b> is shown, not parsed.
    run_dir = make_run(tmp_path, "<b>bold&", submissions=200)
    html = reports.write_report([run_dir]).read_text(encoding="utf-8")
    assert "<b>" not in html and "Stampede report — &lt;b&gt;bold&amp;" in html
    assert environment().autoescape is True


@pytest.mark.slow  # builds and imports a copy in a subprocess
def test_an_installed_copy_finds_its_templates(tmp_path: Path) -> None:
    # Build the packages as an install would (setuptools' build_py reads pyproject's package-data), then
    # render from that copy, outside the source tree: templates left out of the package data fail here.
    build = tmp_path / "lib"
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py", "-d",
                    str(build)], cwd=ROOT, check=True, capture_output=True, timeout=120)
    run_dir = make_run(tmp_path, "installed", submissions=200)
    code = (
        "import reports, sys\n"
        f"assert reports.__file__.startswith({str(build)!r}), reports.__file__\n"
        f"print(reports.write_report([{str(run_dir)!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(build)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<h1>Stampede report — installed</h1>" in html and 'id="fig-cumulative"' in html


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[Path]]:
    parent = tmp_path_factory.mktemp("compare")
    runs = [
        make_run(parent, "ttl-10m", cache_ttl="10m", dead_share=0.0, throttle_per_retry=0.2),
        make_run(parent, "ttl-1m", cache_ttl="1m", slowdown=4, dead_share=0.03),
        make_run(parent, "no-cache", cache="none", slowdown=5, dead_share=0.05),
    ]
    (runs[0] / "report.html").write_text("<!doctype html>")  # a variant with its own report gets a link
    report = reports.write_report(runs)
    return report, report.read_text(encoding="utf-8"), runs


def test_comparison_goes_next_to_the_first_run(comparison: tuple[Path, str, list[Path]]) -> None:
    report, _, runs = comparison
    assert report.parent == runs[0].parent / "comparison-ttl-10m-vs-ttl-1m-vs-no-cache"
    assert (report.parent / "cache-settings.png").is_file()


def test_comparison_marks_the_best_value_of_each_column(comparison: tuple[Path, str, list[Path]]) -> None:
    _, html, _ = comparison
    table = html[html.index('<table class="headline comparison">') : html.index("</table>")]
    header = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    rows = re.findall(r"<tr><td class=\"rank\">.*?</tr>", table)
    assert len(rows) == 3
    cells = [re.findall(r"<td(?: class=\"(best|lossy)\")?>([^<]*)</td>", row) for row in rows]
    best_row_of = {header[2 + c]: [r for r in range(3) if cells[r][c][0] == "best"] for c in range(len(header) - 2)}
    assert best_row_of["Created"] == [0]
    assert best_row_of["p95"] == [0]
    assert best_row_of["Hit ratio"] == [0]
    assert best_row_of["Dead-lettered"] == [0]
    assert "Same in every variant: Offered 3,000" in html


def test_comparison_has_labels_verdict_links_and_one_image_per_figure(
    comparison: tuple[Path, str, list[Path]],
) -> None:
    _, html, _ = comparison
    assert "ttl · cache_ttl=10m" in html and "none · cache_ttl=10m" in html  # labelled as the console does
    assert '<a href="../ttl-10m/report.html">' in html
    assert "ranks first" in html and '<ol class="ranking">' in html
    images = decode_images(html)
    assert len(images) == html.count("<figure ") == 5  # throughput, throttling, cache, cache settings, latency
    for png in images:
        assert mpimg.imread(io.BytesIO(png), format="png").size > 0


def test_many_variants_get_a_short_default_directory(tmp_path: Path) -> None:
    runs = [make_run(tmp_path, f"a-rather-long-run-directory-name-{i}", submissions=100, seed=i) for i in range(4)]
    target = reports.default_comparison_dir([reports.load_run(r) for r in runs])
    assert target.parent == tmp_path
    assert target.name.startswith("comparison-a-rather-long-run-directory-name-0-and-3-more-")


# --- the command ---------------------------------------------------------------------------------------------


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    report_cmd.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing the app into `report`
        pass

    return app


def test_report_command_writes_the_report_where_asked(cli: typer.Typer, tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "run", submissions=200)
    result = CliRunner().invoke(cli, ["report", str(run_dir), "--out", str(tmp_path / "elsewhere")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "elsewhere" / "report.html") in result.output
    assert (tmp_path / "elsewhere" / "report.html").is_file()
    assert not (run_dir / "report.html").exists()


def test_report_command_names_the_missing_file(cli: typer.Typer, tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "run", submissions=50)
    (run_dir / "summary.json").unlink()
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 2
    assert "missing summary.json" in result.output
    assert "Traceback" not in result.output


def test_report_command_passes_every_run_directory(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_write_report(run_dirs: list[Path], out_dir: Path | None = None) -> Path:
        calls.append((run_dirs, out_dir))
        return tmp_path / "cmp" / "report.html"

    monkeypatch.setattr(reports, "write_report", fake_write_report)
    result = CliRunner().invoke(cli, ["report", "runs/a", "runs/b", "runs/c"])
    assert result.exit_code == 0, result.output
    assert calls == [([Path("runs/a"), Path("runs/b"), Path("runs/c")], None)]


def test_report_command_needs_a_run_directory(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["report"])
    assert result.exit_code == 2
    assert "RUN_DIR" in result.output
