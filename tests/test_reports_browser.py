"""A real browser opens report.html offline: every image decodes and the page is not blank.

Headless Chromium (Debian package ``chromium``) takes a screenshot with networking switched off as far as
its flags allow; the report must not need the network anyway (PNGs are data URIs, CSS is inline). Without
Chromium the test skips and says so.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fixtures_runs import make_run
from matplotlib import image as mpimg

import reports

pytestmark = pytest.mark.slow  # a headless browser in a subprocess

CHROMIUM = Path("/usr/bin/chromium")
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def chromium() -> str | None:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Appended to a copy of the report (never to the report itself, which has no script): once the page has
# loaded, count the images the browser could not decode.
PROBE = """<script>window.addEventListener("load", function () {
  var images = Array.from(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;
  var probe = document.createElement("div");
  probe.id = "probe";
  probe.textContent = "images=" + images.length + " broken=" + broken;
  document.body.appendChild(probe);
});</script>"""


def run_chromium(browser: str, page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        *action,
        page.resolve().as_uri(),
    ]
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


def screenshot(browser: str, page: Path, out: Path, profile: Path) -> np.ndarray:
    completed = run_chromium(browser, page, profile, f"--screenshot={out}")
    assert out.is_file(), f"chromium wrote no screenshot (exit {completed.returncode}): {completed.stderr[-2000:]!r}"
    return mpimg.imread(out, format="png")


def images_in_browser(browser: str, html: str, tmp_path: Path, name: str) -> tuple[int, int]:
    """(images, broken images) as the browser sees them after loading ``html``."""
    page = tmp_path / f"{name}.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    completed = run_chromium(browser, page, tmp_path / f"profile-{name}", "--dump-dom")
    found = re.search(r'<div id="probe">images=(\d+) broken=(\d+)</div>', completed.stdout.decode("utf-8", "replace"))
    assert found, f"the probe did not run (exit {completed.returncode}): {completed.stderr[-2000:]!r}"
    return int(found[1]), int(found[2])


def dominant_share(pixels: np.ndarray) -> float:
    """Share of the pixels that have the single most common colour (1.0 = a blank page)."""
    rgb = (pixels[..., :3] * 255).round().astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    _, counts = np.unique(packed, return_counts=True)
    return float(counts.max() / packed.size)


@pytest.mark.skipif(chromium() is None, reason="chromium not installed (Debian: apt-get install chromium)")
def test_report_opens_offline_in_chromium(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, "email-blast-20250101T090000", submissions=2000)
    report = reports.write_report([run_dir])
    html = report.read_text(encoding="utf-8")

    images = IMG.findall(html)
    figures = len(reports.run_charts(reports.load_run(run_dir)))
    assert figures == 5 and 'id="fig-cumulative"' in html, "the report lacks the cumulative figure"
    assert len(images) == html.count("<img ") == figures, "an <img> without an embedded PNG would fetch or break"
    for data in images:
        pixels = mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert dominant_share(pixels) < 0.97, "an embedded figure is blank"

    browser = chromium()
    assert browser is not None
    assert images_in_browser(browser, html, tmp_path, "probe") == (figures, 0), "the browser could not show every image"
    # The probe itself must be able to fail: corrupt one image and it is reported broken.
    corrupt = html.replace('src="data:image/png;base64,iVBOR', 'src="data:image/png;base64,AAAA', 1)
    assert images_in_browser(browser, corrupt, tmp_path, "corrupt") == (figures, 1)

    shot = screenshot(browser, report, tmp_path / "shot.png", tmp_path / "profile")
    assert shot.shape[0] >= 1000 and shot.shape[1] >= 1000
    assert dominant_share(shot) < 0.97, "the page rendered blank"
    # The first figure sits below the headline table and the verdict; the lower part of the page must show
    # it, i.e. carry far more distinct colours than text on white would.
    lower = shot[shot.shape[0] // 2 :]
    colours = np.unique((lower[..., :3] * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200, "no figure visible in the lower half of the page"
