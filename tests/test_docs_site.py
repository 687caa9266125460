"""The documentation site builds from docs/ and the docstrings, with every link and anchor whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_treats_every_broken_link_and_anchor_as_an_error() -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["validation"] == {
        "omitted_files": "warn",
        "absolute_links": "warn",
        "unrecognized_links": "warn",
        "anchors": "warn",
    }  # warnings, which --strict turns into a failed build


def test_the_documentation_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Use it from Python" in home  # the README is the home page
    assert 'href="ODD.html#34-parameters"' in home  # its links point into the site
    for page, text in [
        ("ODD.html", "ODD protocol"),
        ("howto/write-a-scenario.html", "Start from a scaffold"),
        ("howto/run-a-sweep.html", "Run it, resume it, analyse it"),
        ("howto/calibrate.html", "Write a calibration file"),
        ("howto/dashboard-in-class.html", "Before the class"),
        ("reference/plot.html", "cxsim.plot.chart"),
        ("reference/runner.html", "cxsim.runner.RunResult"),
        ("reference/params.html", "cxsim.params.resolve.resolve"),
        ("changelog.html", "Pinning a world"),
    ]:
        assert text in (site / page).read_text(encoding="utf-8"), page
    # Sphinx roles in docstrings are shown as code, not printed literally
    runner = (site / "reference" / "runner.html").read_text(encoding="utf-8")
    assert ":func:" not in runner
    assert "<code>cxsim.run.run_market</code>" in runner
