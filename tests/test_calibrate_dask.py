"""A calibration on a real Dask cluster (a scheduler and a worker on 127.0.0.1) asks the same trials."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import cxsim
from cxsim.cli import main
from tests.test_calibrate import TINY, write
from tests.test_sweeps_dask import scheduler_address  # noqa: F401 - the cluster fixture

pytest.importorskip("distributed")

#: Two batches of four trials, one run each: the second batch is asked from the first's values.
SMALL = TINY.split('[[targets]]\nname = "churn"')[0].replace("replications = 2", "replications = 1")


def test_a_study_on_dask_asks_and_scores_the_same_trials_as_on_local_processes(
    tmp_path: Path,
    scheduler_address: str,  # noqa: F811 - the fixture imported above
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path, SMALL)
    local = cxsim.calibrate(path, tmp_path / "local", workers=2, progress=False, report=False)
    # The command itself, in this process (a Dask client here only leaves idle threads behind).
    assert (
        main(
            [
                "calibrate",
                str(path),
                "--out",
                str(tmp_path / "dask"),
                "--scheduler",
                scheduler_address,
            ]
        )
        == 0
    )
    assert "on the Dask cluster at" in capsys.readouterr().out
    on_dask = pd.read_parquet(tmp_path / "dask" / "trials.parquet")
    columns = ["trial", "state", "objective", *local.best_values]
    pd.testing.assert_frame_equal(on_dask[columns], local.trials[columns])
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "dask" / "fit.csv"), pd.read_csv(tmp_path / "local" / "fit.csv")
    )
