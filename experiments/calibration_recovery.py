"""Calibration recovery: a verification of the calibration machinery (cxsim calibrate).

Not a test of the model against the world: the model makes the data itself.
The TARP scenario's shop (one company, word of mouth off, complaints handled
on the day, the default world's behaviour), 10,000 people for a year, is run
at known values of four parameters, on replications 100-101, which the fit
never uses:

* ``behaviour.voice.minor`` = 0.4 (chance a small problem is voiced),
* ``behaviour.attitude.complained`` = 0.1 (attitude change on complaining),
* ``behaviour.attitude.broken_promise`` = -0.3 (on a call-back that never comes),
* ``behaviour.retention.churn_midpoint`` = -0.19 (the leaving hazard's midpoint).

What the runs show becomes the observed figures, with the numbers of cases the
runs had as sample sizes (:func:`cxsim.calibrate.recovery.synthetic`): the
share of problems voiced, TARP's table of repurchase by outcome, and the same
table in a variant of the shop whose call-backs are always promised and almost
never kept (there most unsatisfied complaints end in a broken promise, which
pins its effect). The calibration then fits the four parameters with the truth
hidden, once with Optuna's TPE (the default) and once with CMA-ES, on
replications 0-1: 200 search trials, then 96 refine trials (a local CMA-ES from
the search's best trials, 24 per parameter, the default; none before it), then
128 spread trials (32 per parameter, the budget at which the coverage study,
``calibration_coverage.py``, found the ranges holding the truth in every draw;
100 before it).

**Criteria, stated before the runs:**

* every true value lies inside the reported range of good fits (the trials
  within χ²(4, 0.95) x (1 + r) of the reference level; see
  cxsim.calibrate.likelihood and cxsim.calibrate.spread.reference_level);
* each range is at most half of the parameter's bounds;
* the best objective lies within the 99% quantile of χ²(cells - 4) x (1 + r):
  the observations are the model's own, so the best fit's deviance is that of
  the noise, widened by the simulation noise as the margin is.

Writes ``experiments/results/calibration_recovery/``: ``recovery.csv`` (true
value, recovered value, range of good fits, per sampler), ``fit_<sampler>.csv``,
``trials_<sampler>.csv``, ``recovery.png`` and ``headline.json``. The
calibration folders (SQLite studies, HTML reports) go to ``--work`` (default:
a temporary folder). ``--draw repeat`` (or ``--repeat``) runs the same check
on other luck (the truth's runs on replications 200-201, the samplers seeded 8)
into ``calibration_recovery/repeat/``, to see that the spread's design was not
tuned to one draw; ``--draw third`` on a third (replications 300-301, seed 9,
into ``calibration_recovery/third/``), declared before the spread's budget of
32 trials per parameter was run and run once after it; ``--draw fourth``
(replications 400-401, seed 10), declared before the reference level of good
fits was run, and run once after it; ``--draw fifth`` (replications 500-501,
seed 11) and ``--draw sixth`` (600-601, seed 12), declared before the refine
phase was run: the fourth draw's miss (the search ended at 139 where the truth
scores about 18) is what the refine phase was built for, so only these two
judge it. The sixth failed (the search's best trials in another basin); the
refine phase's CMA-ES then became LRA-CMA-ES, chosen by rerunning the sixth
draw's refine and spread phases after its own search (a diagnosis, not a
judgement), and ``--draw seventh`` (700-701, seed 13) and ``--draw eighth``
(800-801, seed 14), declared before, judge that.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import Timer, out_dir, write_headline
from scipy import stats

import cxsim
from cxsim.calibrate import calibration_from_dict
from cxsim.calibrate.recovery import recovery_table, synthetic

NAME = "calibration_recovery"

TRUTH = {
    "behaviour.voice.minor": 0.4,
    "behaviour.attitude.complained": 0.1,
    "behaviour.attitude.broken_promise": -0.3,
    "behaviour.retention.churn_midpoint": -0.19,
}
TRUTH_REPLICATIONS = (100, 101)
#: The draws: the truth's replications and the samplers' seed. "main" writes the headline;
#: the others check the same design on other luck, each into its own folder.
DRAWS = {
    "main": (TRUTH_REPLICATIONS, 7),
    "repeat": ((200, 201), 8),
    "third": ((300, 301), 9),
    "fourth": ((400, 401), 10),
    "fifth": ((500, 501), 11),
    "sixth": ((600, 601), 12),
    "seventh": ((700, 701), 13),
    "eighth": ((800, 801), 14),
}
SAMPLERS = ("tpe", "cmaes")

#: The calibration file, its observations placeholders that synthetic() replaces.
CALIBRATION = """
name = "recovery"
description = "Four parameters of a shop, recovered from data the model made at known values."
base = "tarp_repurchase"
replications = 2
trials = 200
refine_trials = 96
spread_trials = 128
batch_size = 8
seed = 7

[fixed]
"market.customers" = 10_000
"market.days" = 365
"journey.sample_size" = 0

[parameters]
"behaviour.voice.minor" = { low = 0.05, high = 0.9 }
"behaviour.attitude.complained" = { low = -1.0, high = 1.0 }
"behaviour.attitude.broken_promise" = { low = -2.0, high = 0.0 }
"behaviour.retention.churn_midpoint" = { low = -1.5, high = 0.5 }

[[targets]]
name = "complaint share"
measure = "complaint_share"
args = { from_day = 30, to_day = 335 }
likelihood = "binomial"
observed = 0.5
n = 1

[[targets]]
name = "TARP table"
measure = "tarp_repurchase"
args = { from_day = 30, to_day = 335 }
likelihood = "binomial"
observed = 0.5
n = 1

[[targets]]
name = "TARP table, call-backs almost never kept"
measure = "tarp_repurchase"
args = { from_day = 30, to_day = 335 }
likelihood = "binomial"
observed = 0.5
n = 1
variant = { "companies.0.policy.callback_probability" = 1.0, "companies.0.policy.callback_kept" = 0.05 }
"""


def calibrate(
    data: dict[str, Any], sampler: str, work: Path, workers: int
) -> tuple[pd.DataFrame, Any]:
    """Fit the synthetic data with one sampler; the recovery table and the result."""
    tables = copy.deepcopy(data)
    tables["sampler"] = sampler
    result = cxsim.calibrate(tables, work / sampler, workers=workers)
    calibration = calibration_from_dict(tables)
    table = recovery_table(calibration, result, TRUTH)
    cells = sum(len(t.cells) for t in calibration.targets)
    r = result.margin.noise_ratio
    table.insert(0, "sampler", sampler)
    table["best_objective"] = result.best_value
    table["fit_bound_99"] = stats.chi2.ppf(0.99, cells - len(TRUTH)) * (1 + r)
    table["margin"] = result.margin.value
    table["reference"] = result.margin.reference
    table["noise_ratio"] = r
    table["good_trials"] = int(result.trials["good"].sum())
    table["trials"] = len(result.trials)
    return table, result


def plot(results: dict[str, Any], path: Path) -> None:
    """Per sampler and parameter: every trial's objective against its value; good fits, truth, range."""
    import matplotlib.pyplot as plt

    keys = list(TRUTH)
    fig, axes = plt.subplots(
        len(results), len(keys), figsize=(4 * len(keys), 3.4 * len(results)), squeeze=False
    )
    for row, (sampler, result) in enumerate(results.items()):
        trials = result.trials[result.trials["state"] == "COMPLETE"]
        spread = result.spread.set_index("parameter")
        for col, key in enumerate(keys):
            ax = axes[row, col]
            good = trials["good"].to_numpy()
            ax.scatter(trials[key][~good], trials["objective"][~good], s=8, c="#B0B0B0")
            ax.scatter(trials[key][good], trials["objective"][good], s=12, c="#1A9850")
            low, high = spread.loc[key, "good_low"], spread.loc[key, "good_high"]
            ax.axvspan(low, high, color="#1A9850", alpha=0.12)
            ax.axvline(TRUTH[key], color="#D73027", lw=1.5)
            ax.set_yscale("log")
            ax.set_xlim(spread.loc[key, "bound_low"], spread.loc[key, "bound_high"])
            ax.set_title(f"{sampler}: {key.split('.', 1)[1]}", fontsize=9)
            if col == 0:
                ax.set_ylabel("objective (deviance)")
    fig.suptitle(
        "Calibration recovery: trials (grey), good fits (green, their range shaded), truth (red)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, help="where the calibration folders go")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument(
        "--draw",
        choices=list(DRAWS),
        default="main",
        help="which luck: "
        + "; ".join(f"{k}: truth on replications {r}, seed {s}" for k, (r, s) in DRAWS.items())
        + f"; other than main, written to {NAME}/DRAW/ (no headline)",
    )
    parser.add_argument("--repeat", action="store_true", help="the same as --draw repeat")
    args = parser.parse_args(argv)
    draw = "repeat" if args.repeat else args.draw
    out = out_dir(NAME)
    tables_in = tomllib.loads(CALIBRATION)
    truth_replications, tables_in["seed"] = DRAWS[draw]
    if draw != "main":
        out = out / draw
        out.mkdir(exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="cxsim-recovery-"))
    print(f"calibration folders in {work}")
    with Timer() as truth_timer:
        data = synthetic(tables_in, TRUTH, truth_replications, workers=args.workers)
    tables, results, seconds = [], {}, {}
    for sampler in args.samplers:
        with Timer() as timer:
            table, result = calibrate(data, sampler, work, args.workers)
        seconds[sampler] = timer.seconds
        tables.append(table)
        results[sampler] = result
        result.fit.to_csv(out / f"fit_{sampler}.csv", index=False)
        keep = ["trial", "phase", "state", "objective", "good", *TRUTH]
        result.trials[keep].to_csv(out / f"trials_{sampler}.csv", index=False)
        print(table.round(4).to_string(index=False))
    recovery = pd.concat(tables, ignore_index=True)
    recovery.to_csv(out / "recovery.csv", index=False)
    if draw != "main":
        return
    plot(results, out / "recovery.png")

    verdicts = []
    for sampler, part in recovery.groupby("sampler", sort=False):
        inside = int(part["truth_inside"].sum())
        narrow = bool((part["share_of_range"] <= 0.5).all())
        fits = bool(part["best_objective"].iloc[0] <= part["fit_bound_99"].iloc[0])
        widths = (
            f"{100 * part['share_of_range'].min():.0f}-{100 * part['share_of_range'].max():.0f}%"
        )
        verdicts.append(
            f"{sampler}: truth inside the good fits for {inside}/{len(part)}, ranges {widths} of "
            f"the bounds{'' if narrow else ' (NOT all at most half)'}, best objective "
            f"{part['best_objective'].iloc[0]:.1f} {'within' if fits else 'NOT within'} its 99% "
            f"bound {part['fit_bound_99'].iloc[0]:.1f}"
        )
    headline = (
        "verification of the calibration machinery (not of the model): 4 parameters recovered "
        "from data the model made at known values; " + "; ".join(verdicts)
    )
    details = {
        "kind": "verification",
        "truth": TRUTH,
        "truth_replications": list(TRUTH_REPLICATIONS),
        "observed": [
            {"target": t["name"], "observed": t["observed"], "n": t["n"]} for t in data["targets"]
        ],
        "recovery": recovery.to_dict("records"),
        "truth_seconds": truth_timer.seconds,
        "calibration_seconds": seconds,
        "workers": args.workers,
        "runs_per_trial": 2 * 2,
        "calibration_file": CALIBRATION,
    }
    write_headline(NAME, "Calibration recovery", headline, details, kind="verification")
    assert np.isfinite(recovery["best_objective"]).all()


if __name__ == "__main__":
    main()
