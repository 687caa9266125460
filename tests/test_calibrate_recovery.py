"""Parameter recovery: a calibration finds, within its spread of good fits, values the model was given.

The model makes the data: the TARP scenario's shop (one company, word of mouth
off, complaints handled on the day, the default world's behaviour), 4,000
people for 80 days, is run at known values of three parameters on
replications 100 and 101, and the complaint share and the TARP table it shows
become the observed figures, with the numbers of cases the runs had as sample
sizes (``cxsim.calibrate.recovery.synthetic``). Calibrating them with the truth
hidden (replications 0 and 1, CMA-ES) must give, as stated before the run:

* every true value inside the reported range of good fits;
* each range at most half the parameter's bounds (the fit learns something);
* a best objective within the 99% quantile of χ²(cells - parameters) x (1 + r):
  the observations are the model's own, so the best fit's deviance is that of
  the noise, widened by the simulation noise r as the margin is.

The file, 40 search, 72 refine and 96 spread trials, is ``experiments/calibration_recovery_small.toml``;
the budget of 32 spread trials per parameter is the one at which
``experiments/calibration_coverage.py`` (this check on 12 draws, draw 0 being this one) found
the ranges holding the truth in every draw. The larger version, with four parameters, is
``experiments/calibration_recovery.py``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from scipy import stats

import cxsim
from cxsim.calibrate import calibration_from_dict
from cxsim.calibrate.recovery import recovery_table, synthetic

#: The TARP shop, small and short: 4,000 people for 80 days (shared with the coverage study).
SHOP = (
    Path(__file__).resolve().parents[1] / "experiments" / "calibration_recovery_small.toml"
).read_text()

TRUTH = {
    "behaviour.voice.minor": 0.4,
    "behaviour.attitude.complained": 0.1,
    "behaviour.retention.churn_midpoint": -0.19,
}


def test_a_calibration_recovers_the_values_that_made_its_data(tmp_path: Path) -> None:
    data = synthetic(tomllib.loads(SHOP), TRUTH, [100, 101], workers=2)
    assert all(min(t["n"]) >= 20 for t in data["targets"])  # every cell rests on real cases
    result = cxsim.calibrate(data, tmp_path / "fit", workers=2, progress=False, report=False)
    calibration = calibration_from_dict(data)
    table = recovery_table(calibration, result, TRUTH)
    assert table["truth_inside"].all(), table.to_string()
    assert (table["share_of_range"] <= 0.5).all(), table.to_string()
    cells = sum(len(t.cells) for t in calibration.targets)
    bound = stats.chi2.ppf(0.99, cells - len(TRUTH)) * (1 + result.margin.noise_ratio)
    assert result.best_value <= bound
