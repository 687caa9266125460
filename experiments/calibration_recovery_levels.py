"""Calibration recovery, read again: whether a pass depends on the level good fits are measured from.

A verification of the calibration machinery, run on the recovery check's stored
trials (``calibration_recovery.py`` writes them; nothing is simulated here).
Good fits are the trials within the margin of a *reference level*: the value at
the best trial of a quadratic fitted near it, where enough trials lie there, and
never below the best objective (``cxsim.calibrate.spread.reference_level``). That
rule was added after a miss, and it widens the region. This reads every draw's
trials again with the margin measured from the best objective itself, the older
and narrower rule, and says whether the truth is still inside every range.

Writes ``experiments/results/calibration_recovery/levels.csv``: per draw and
sampler, the best objective, the reference, the margin, and under each rule the
good fits and the parameters whose range holds the truth.
"""

from __future__ import annotations

import pandas as pd
from calibration_recovery import DRAWS, NAME, TRUTH
from common import out_dir


def main() -> None:
    base = out_dir(NAME)
    rows = []
    for draw in DRAWS:
        folder = base if draw == "main" else base / draw
        if not (folder / "recovery.csv").is_file():
            continue
        recovery = pd.read_csv(folder / "recovery.csv")
        for sampler, part in recovery.groupby("sampler", sort=False):
            trials = pd.read_csv(folder / f"trials_{sampler}.csv")
            trials = trials[trials["state"] == "COMPLETE"]
            best, reference, margin = (
                float(part[c].iloc[0]) for c in ("best_objective", "reference", "margin")
            )
            from_best = trials[trials["objective"] <= best + margin]
            rows.append(
                {
                    "draw": draw,
                    "sampler": sampler,
                    "best": best,
                    "reference": reference,
                    "margin": margin,
                    "good_from_reference": int(part["good_trials"].iloc[0]),
                    "inside_from_reference": int(part["truth_inside"].sum()),
                    "good_from_best": len(from_best),
                    "inside_from_best": sum(
                        from_best[k].min() <= v <= from_best[k].max() for k, v in TRUTH.items()
                    ),
                    "parameters": len(TRUTH),
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(base / "levels.csv", index=False)
    print(table.round(2).to_string(index=False))


if __name__ == "__main__":
    main()
