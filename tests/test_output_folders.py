"""Output folders: --force replaces only what cxsim wrote, a killed write leaves nothing for ever,
and an output that cannot be written is refused before the simulation (issue 11, items 1, 5, 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxsim import runner
from cxsim.files import OUTPUT_MARKER, check_output_folder

from .test_cli import assert_bad_input, cxsim, write

TINY = "[market]\ncustomers = 200\ndays = 5\n"
RUN_OUTPUT = sorted([*runner.RUN_FILES, OUTPUT_MARKER])


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny scenario in a fresh working folder."""
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / "s.toml", TINY)


def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any simulation fail the test: refusals must come before the work."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although the output was refused")

    monkeypatch.setattr(runner, "run", refuse)
    monkeypatch.setattr(runner, "compare", refuse)


# --------------------------------------------------------------------------- --force (item 1)


@pytest.mark.parametrize("command", ["run", "compare"])
def test_force_never_empties_a_folder_cxsim_did_not_write(
    command: str, tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    thesis = tiny.parent / "d" / "thesis.txt"
    thesis.parent.mkdir()
    thesis.write_text("precious", encoding="utf-8")
    no_simulation(monkeypatch)
    scenarios = [tiny] if command == "run" else [tiny, tiny]
    for force in ([], ["--force"]):
        code, _, err = cxsim(capsys, command, *scenarios, "--out", "d", "-q", *force)
        assert_bad_input(code, err, "--out d", "not written by cxsim")
        assert thesis.read_text(encoding="utf-8") == "precious"
        assert sorted(p.name for p in tiny.parent.iterdir()) == ["d", "s.toml"]


@pytest.mark.parametrize("where", [".", "..", "CWD", "LINK"])
def test_force_never_replaces_the_current_folder_or_one_above_it(
    where: str, tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tiny.parent / "work"
    work.mkdir()
    (work / "keep.txt").write_text("mine", encoding="utf-8")
    (tiny.parent / "link").symlink_to(work)
    monkeypatch.chdir(work)
    # Even a folder that looks like cxsim's output: the current folder is never replaced.
    (work / OUTPUT_MARKER).write_text('{"files": ["keep.txt"]}', encoding="utf-8")
    no_simulation(monkeypatch)
    out = {"CWD": str(work), "LINK": str(tiny.parent / "link")}.get(where, where)
    code, _, err = cxsim(capsys, "run", tiny, "--out", out, "--force", "-q")
    assert_bad_input(code, err, f"--out {out}", "current folder or a folder above it")
    assert sorted(p.name for p in work.iterdir()) == sorted(["keep.txt", OUTPUT_MARKER])
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["link", "s.toml", "work"]


def test_force_replaces_a_folder_cxsim_wrote_and_nothing_else(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cxsim(capsys, "run", tiny, "--out", "r", "-q")[0] == 0
    out = tiny.parent / "r"
    assert sorted(p.name for p in out.iterdir()) == RUN_OUTPUT
    first = (out / "summary.json").read_text(encoding="utf-8")

    code, _, err = cxsim(capsys, "run", tiny, "--out", "r", "-q")
    assert_bad_input(code, err, "--out r", "already exists", "--force")
    assert cxsim(capsys, "run", tiny, "--out", "r", "-q", "--force", "--seed", "9")[0] == 0
    assert (out / "summary.json").read_text(encoding="utf-8") != first
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["r", "s.toml"]  # no temporaries

    # A file the user added to the folder since is not cxsim's to delete.
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    code, _, err = cxsim(capsys, "run", tiny, "--out", "r", "-q", "--force")
    assert_bad_input(code, err, "--out r", "files cxsim did not write (notes.txt)")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_force_refuses_a_symbolic_link_to_a_folder_cxsim_wrote(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cxsim(capsys, "run", tiny, "--out", "r", "-q")[0] == 0
    (tiny.parent / "alias").symlink_to(tiny.parent / "r")
    code, _, err = cxsim(capsys, "run", tiny, "--out", "alias", "-q", "--force")
    assert_bad_input(code, err, "--out alias", "symbolic link")
    assert (tiny.parent / "alias").is_symlink()
    assert sorted(p.name for p in (tiny.parent / "r").iterdir()) == RUN_OUTPUT


def test_a_compare_folder_carries_the_marker(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cxsim(capsys, "compare", tiny, tiny, "-r", "2", "--out", "c", "-q")[0] == 0
    assert (tiny.parent / "c" / OUTPUT_MARKER).is_file()
    assert cxsim(capsys, "compare", tiny, tiny, "-r", "2", "--out", "c", "-q", "--force")[0] == 0


# --------------------------------------------------------------------------- a killed write (item 5)

#: Runs ``cxsim run`` with its report writer held until the test kills the process.
KILLED_DURING_WRITE = """
import sys, time
from pathlib import Path
import cxsim.report
from cxsim import cli

def held_report(*args, **kwargs):
    Path(sys.argv[1]).write_text("writing")  # the other files are in the temporary folder
    time.sleep(600)

cxsim.report.run_report = held_report
sys.exit(cli.main(["run", sys.argv[2], "--out", sys.argv[3], "-q"]))
"""


def test_a_run_killed_during_its_write_is_cleaned_up_by_the_next_run_to_that_place(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tiny.parent / "writing.flag"
    out = tiny.parent / "runs" / "r"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_DURING_WRITE, str(flag), str(tiny), str(out)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert child.poll() is None, "cxsim run ended before its write"
            assert time.monotonic() < deadline, "cxsim run never reached its write"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = [p.name for p in out.parent.iterdir()]
    assert len(left) == 1
    assert left[0].startswith(".r.")  # the hidden temporary folder the killed writer left
    assert not out.exists()

    assert cxsim(capsys, "run", tiny, "--out", out, "-q")[0] == 0
    assert [p.name for p in out.parent.iterdir()] == ["r"]
    assert sorted(p.name for p in out.iterdir()) == RUN_OUTPUT


# --------------------------------------------------------------------------- unwritable (item 6)


def test_an_out_below_a_file_is_refused_before_simulating(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_simulation(monkeypatch)
    for out in ("s.toml/r", "s.toml/deeper/r"):
        code, _, err = cxsim(capsys, "run", tiny, "--out", out, "-q")
        assert_bad_input(code, err, f"--out {out}", "s.toml is not a folder")
    code, _, err = cxsim(capsys, "run", tiny, "--out", "s.toml", "-q", "--force")
    assert_bad_input(code, err, "--out s.toml", "is not a folder")
    assert sorted(p.name for p in tiny.parent.iterdir()) == ["s.toml"]


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into read-only folders; the below-a-file case covers the check as root",
)
def test_an_out_in_a_read_only_folder_is_refused_before_simulating(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tiny.parent / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    no_simulation(monkeypatch)
    try:
        code, _, err = cxsim(capsys, "run", tiny, "--out", "locked/r", "-q")
    finally:
        locked.chmod(0o755)
    assert_bad_input(code, err, "--out locked/r", "cannot write in locked")
    assert list(locked.iterdir()) == []


def test_the_write_probe_leaves_nothing_behind(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "new" / "r")
    check_output_folder(tmp_path / "r")
    assert list(tmp_path.iterdir()) == []
