"""A calibration killed with SIGKILL mid-study resumes: no trial lost, none run twice, the same trials."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pandas as pd

import cxsim
from cxsim.cli import main
from tests.test_calibrate import TINY, calibrate_command, write

#: Twelve search trials, eight refine and four spread trials in batches of four, one run each of
#: about 0.1 s: the kill below finds the search told and refine trials running.
LONGER = (
    TINY.split('[[targets]]\nname = "churn"')[0]
    .replace("\ntrials = 8", "\ntrials = 12")
    .replace("replications = 2", "replications = 1")
    .replace('"market.days" = 90', '"market.days" = 150')
    .replace("to_day = 70", "to_day = 120")
)


def trial_states(db: Path) -> dict[int, str]:
    """Trial number -> state, read from the study's SQLite file while another process writes it."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return dict(connection.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.OperationalError:  # the tables are still being created
        return {}


def trials_of(out: Path) -> pd.DataFrame:
    columns = [
        "trial",
        "state",
        "objective",
        "behaviour.voice.minor",
        "behaviour.retention.churn_midpoint",
    ]
    return pd.read_parquet(out / "trials.parquet")[columns]


def test_kill_9_mid_study_then_rerun_finishes_every_trial_once_with_the_same_trials(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, LONGER)
    out = tmp_path / "killed"
    db = out / "study.db"
    process = subprocess.Popen(
        calibrate_command(path, out, "--workers", "2", "-q"),
        start_new_session=True,  # its own process group: the kill takes its workers too
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        states: dict[int, str] = {}
        while time.monotonic() < deadline and process.poll() is None:
            states = trial_states(db)
            # Killed in the refine phase (trials 12-19), whose CMA-ES is rebuilt from the trials
            # told when the rerun asks the rest of it.
            if any(n >= 12 and s == "RUNNING" for n, s in states.items()):
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    killed = trial_states(db)
    running = sorted(n for n, s in killed.items() if s == "RUNNING")
    finished = sorted(n for n, s in killed.items() if s in ("COMPLETE", "FAIL"))
    assert running
    assert min(running) >= 12
    assert finished
    assert len(killed) < 24
    with cxsim.calibrate.study.quiet_optuna():
        before = cxsim.calibrate.study.CalibrationStore(out).open_study(create=False).trials
    asked = {t.number: (t.params, t.value) for t in before}

    assert main(["calibrate", str(path), "--out", str(out), "--workers", "2", "-q"]) == 0
    after = trials_of(out)
    # 12 search, 8 refine and 4 spread trials: no trial lost, none counted twice.
    assert after["trial"].tolist() == list(range(24))
    assert set(after["state"]) <= {"COMPLETE", "FAIL"}
    keys = ["behaviour.voice.minor", "behaviour.retention.churn_midpoint"]
    for number, (params, value) in asked.items():
        row = after.loc[number]
        assert [row[k] for k in keys] == [params[k] for k in keys]  # rerun with the same values
        if number in finished:  # kept, not run again (a failed trial has no value)
            assert row["objective"] == value or (value is None and pd.isna(row["objective"]))

    # A study never stopped, on one worker, asks and scores the same trials.
    whole = cxsim.calibrate(path, tmp_path / "whole", workers=1, progress=False, report=False)
    pd.testing.assert_frame_equal(trials_of(whole.out_dir), after)
