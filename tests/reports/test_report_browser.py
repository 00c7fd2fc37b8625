"""The HTML report in a real browser: headless Chromium opens the file and screenshots it.

The screenshot is kept as a test artefact, ``.impactlens/test-artefacts/report.png``
(git-ignored), for a person to look at. Skipped where Debian's chromium is absent.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from matplotlib import image

from tests.reports.conftest import REPO

CHROMIUM = shutil.which("chromium")
ARTEFACT = REPO / ".impactlens" / "test-artefacts" / "report.png"
WIDTH, HEIGHT = 1200, 2000


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_chromium_renders_the_report(tmp_path, weekly_html):
    page = tmp_path / "report.html"
    page.write_text(weekly_html, encoding="utf-8")
    screenshot = tmp_path / "report.png"
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={screenshot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.is_file(), done.stderr[-2000:]
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, ARTEFACT)

    pixels = image.imread(screenshot)[..., :3]  # RGB(A) floats in [0, 1]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    ink = (pixels < 0.9).any(axis=2)  # anything not (near) white
    assert ink.mean() > 0.03, f"only {ink.mean():.1%} of the page is drawn on"
    colours = np.unique((pixels * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200  # text, table rules, notes and charts, anti-aliased
    # The charts' blue and orange bars (#2f5d8c, #c2571a) were drawn: the SVG rendered.
    for colour in ((0x2F, 0x5D, 0x8C), (0xC2, 0x57, 0x1A)):
        close = (np.abs(pixels * 255 - np.array(colour)) <= 3).all(axis=2)
        assert close.sum() > 500, f"no chart colour #{bytes(colour).hex()} on the page"
    # Ink all the way down: the page is longer than the window and fills it.
    assert ink[: HEIGHT // 2].mean() > 0.01 and ink[HEIGHT // 2 :].mean() > 0.01
