"""Calibration coverage: how often the spread of good fits holds the truth, over many draws.

A verification of the calibration machinery, not of the model: the model makes
the data. The parameter-recovery check (``calibration_recovery.py``, and its
small version in ``tests/test_calibrate_recovery.py``) asks that the truth lie
inside the reported range of good fits, on one draw of luck. One draw cannot
say whether a miss is the statistics or the search, nor how often the check
would pass. This study repeats the small check (the file
``calibration_recovery_small.toml``: the TARP shop of 4,000 people for 80 days,
three parameters, CMA-ES, 40 search trials, then 72 refine trials of a local
CMA-ES from the search's best tenth, ``cxsim.calibrate.refine``; none before
that phase existed) on ``--draws`` draws: draw d makes
its data on replications (100 + 2d, 101 + 2d) and seeds the sampler 3 + d, so
draw 0 is the test's own. Each draw runs ``--spread`` spread trials, and the
spread is read after the first 24, 48, ... of them (a study's first n spread
trials do not depend on how many follow, so one long study gives every
budget). Per draw and budget it records:

* **truth in the region**: the truth's own objective on the fit's replications
  (0 and 1) lies at or below the level of good fits found so far (reference +
  margin), i.e. the truth is a good fit by the calibration's own rule; this is
  the statistics' part
  (a 95% region should hold it in about 95% of draws);
* **truth inside the ranges**: every true value inside the range of the good
  fits the trials found; this is what the recovery check asks, and what the
  mapping adds to the statistics' part.

Writes ``experiments/results/calibration_coverage/``: ``draws.csv`` (one row
per draw, budget and parameter), ``coverage.csv`` (per budget: the shares,
with exact 95% binomial intervals) and ``headline.json``.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from common import Timer, out_dir, write_headline
from statsmodels.stats.proportion import proportion_confint

import cxsim
from cxsim.calibrate import calibration_from_dict
from cxsim.calibrate.evaluation import evaluate, objective
from cxsim.calibrate.recovery import synthetic
from cxsim.calibrate.spread import good_fits, margin_of, ranked
from cxsim.calibrate.study import CalibrationStore

NAME = "calibration_coverage"
FILE = Path(__file__).resolve().parent / "calibration_recovery_small.toml"
TRUTH = {
    "behaviour.voice.minor": 0.4,
    "behaviour.attitude.complained": 0.1,
    "behaviour.retention.churn_midpoint": -0.19,
}
#: The spread budgets read from each study (prefixes of its spread trials).
STEP = 24


def one_draw(draw: int, spread: int, work: Path, workers: int) -> list[dict]:
    """Calibrate draw ``draw``; per budget and parameter: the range of good fits and the truth."""
    tables = tomllib.loads(FILE.read_text())
    tables["seed"] = 3 + draw
    tables["spread_trials"] = spread
    data = synthetic(tables, TRUTH, [100 + 2 * draw, 101 + 2 * draw], workers=workers)
    out = work / f"draw{draw}"
    cxsim.calibrate(copy.deepcopy(data), out, workers=workers, progress=False, report=False)
    calibration = calibration_from_dict(data)
    truth_value, _ = objective(calibration, evaluate(calibration, TRUTH, [0, 1], workers=workers))
    trials = CalibrationStore(out).open_study(create=False).get_trials(deepcopy=False)
    before = [t for t in trials if t.user_attrs.get("phase") != "spread"]  # search and refine
    searched = ranked([t for t in before if t.user_attrs.get("phase") == "search"])[0].value
    refined = ranked(before)[0].value
    rows = []
    for budget in range(STEP, spread + 1, STEP):
        told = [t for t in trials if t.number < len(before) + budget]
        good = good_fits(calibration, told)
        best, found = ranked(told)[0].value, margin_of(calibration, told)
        for p in calibration.parameters:
            seen = [float(t.params[p.key]) for t in good]
            rows.append(
                {
                    "draw": draw,
                    "spread_trials": budget,
                    "parameter": p.key,
                    "true": TRUTH[p.key],
                    "good_low": min(seen),
                    "good_high": max(seen),
                    "inside": min(seen) <= TRUTH[p.key] <= max(seen),
                    "good_fits": len(good),
                    "best_after_search": searched,
                    "best_after_refine": refined,
                    "best": best,
                    "margin": found.value,
                    "reference": found.reference,
                    "truth_objective": truth_value,
                    "truth_in_region": truth_value <= found.level,
                }
            )
    return rows


def summarise(draws: pd.DataFrame) -> pd.DataFrame:
    """Per budget: the share of draws with the truth in the region, and inside every range."""
    rows = []
    for budget, part in draws.groupby("spread_trials"):
        per_draw = part.groupby("draw").agg(
            region=("truth_in_region", "first"), ranges=("inside", "all")
        )
        n = len(per_draw)
        row = {"spread_trials": budget, "draws": n}
        for name in ("region", "ranges"):
            k = int(per_draw[name].sum())
            low, high = proportion_confint(k, n, alpha=0.05, method="beta")
            row |= {f"truth_in_{name}": k, f"{name}_low": low, f"{name}_high": high}
        inside = part["inside"]
        row |= {"parameters_inside": int(inside.sum()), "parameters": len(inside)}
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=12)
    parser.add_argument("--spread", type=int, default=144, help="spread trials per study")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, help="where the calibration folders go")
    args = parser.parse_args(argv)
    if args.spread < STEP or args.spread % STEP:
        parser.error(f"--spread must be a positive multiple of {STEP}")
    work = args.work or Path(tempfile.mkdtemp(prefix="cxsim-coverage-"))
    print(f"calibration folders in {work}")
    rows = []
    with Timer() as timer:
        for draw in range(args.draws):
            rows += one_draw(draw, args.spread, work, args.workers)
            print(f"draw {draw} done", flush=True)
    draws = pd.DataFrame(rows)
    coverage = summarise(draws)
    out = out_dir(NAME)
    draws.to_csv(out / "draws.csv", index=False)
    coverage.to_csv(out / "coverage.csv", index=False)
    print(coverage.round(3).to_string(index=False))
    parts = [
        f"{r.spread_trials} spread trials: truth in the region in {r.truth_in_region}/{r.draws}, "
        f"inside every range in {r.truth_in_ranges}/{r.draws} "
        f"({r.parameters_inside}/{r.parameters} parameter ranges)"
        for r in coverage.itertuples()
    ]
    headline = (
        "verification of the calibration machinery: the small recovery check repeated on "
        f"{args.draws} draws; " + "; ".join(parts)
    )
    details = {
        "kind": "verification",
        "truth": TRUTH,
        "coverage": coverage.to_dict("records"),
        "seconds": timer.seconds,
        "workers": args.workers,
        "calibration_file": FILE.name,
    }
    write_headline(NAME, "Calibration coverage", headline, details, kind="verification")


if __name__ == "__main__":
    main()
