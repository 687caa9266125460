"""A wheel is complete: built the way pip builds it, it runs the shipped scenarios by name.

The wheel is built from a copy of the files a source distribution holds (so a
file the build needs but the copy lacks fails here, not on a user's machine),
unpacked away from the checkout, and run from a folder outside the repository
with only the unpacked wheel on the path for cxsim.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What the build reads: the package metadata, the build hook, the sources, the scenarios.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "src", "scenarios")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(
                path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = (work / "dist").glob("cxsim-*.whl")
    return found


def test_the_wheel_carries_every_shipped_scenario(wheel: Path) -> None:
    shipped = sorted((ROOT / "scenarios").glob("*.toml"))
    assert shipped
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for path in shipped:
            inside = f"cxsim/scenarios/{path.name}"
            assert inside in names, f"{path.name} is missing from the wheel"
            assert archive.read(inside) == path.read_bytes()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        assert "License-Expression: MIT" in archive.read(metadata).decode()


def test_an_installed_wheel_runs_a_shipped_scenario_by_name(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)  # what pip install does with a pure-Python wheel
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}  # before the checkout's editable install

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        """This interpreter, run from outside the checkout with the unpacked wheel first."""
        return subprocess.run(
            [sys.executable, *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def cxsim(*args: str) -> subprocess.CompletedProcess[str]:
        return python("-m", "cxsim", *args)

    where = python("-c", "import cxsim.scenario as s; print(s.SCENARIO_DIR)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()) == site / "cxsim" / "scenarios"
    listed = cxsim("scenarios")
    assert listed.returncode == 0, listed.stderr
    for path in (ROOT / "scenarios").glob("*.toml"):
        assert path.stem in listed.stdout
    ran = cxsim("run", "manage_vs_fix", "--days", "30", "--set", "market.customers=500")
    assert ran.returncode == 0, ran.stderr
    assert f"manage_vs_fix ({site / 'cxsim' / 'scenarios' / 'manage_vs_fix.toml'})" in ran.stdout
    written = elsewhere / "runs" / "manage_vs_fix"
    assert sorted(p.name for p in written.iterdir()) == [
        ".cxsim-output.json",
        "report.html",
        "summary.json",
        "timeseries.csv",
        "timeseries.parquet",
    ]
    unknown = cxsim("run", "manage_vs_fx")
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip() == "manage_vs_fx: no such scenario file; did you mean manage_vs_fix?"
    )
