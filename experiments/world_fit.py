"""Experiment 0 (calibration): the default world's joint fit, read from its committed result.

The fit itself is ``cxsim calibrate experiments/world_fit.toml --out DIR --workers 2``
(about 40 minutes on two cores); its outputs are committed in
``experiments/results/world_fit/`` (``best.toml``, ``fit.csv``, ``spread.csv``,
``trials.parquet``, ``calibration_report.html``, copied from DIR). This script does
not refit: it reads ``fit.csv`` and ``spread.csv`` and writes the headline of
every residual, so ``make experiments`` regenerates the table from the committed
fit. The schema's defaults are the fitted values (to 4 significant digits;
``tests/test_world_fit.py`` holds them to it).
"""

from __future__ import annotations

import pandas as pd
from common import out_dir, write_headline

NAME = "world_fit"


def cells(fit: pd.DataFrame, target: str) -> str:
    """A target's simulated cells against the observed, as '37/46/70/95 vs 37/46/70/95'."""
    part = fit[fit.target == target]
    simulated = "/".join(f"{100 * v:.0f}" for v in part["simulated"])
    observed = "/".join(f"{100 * v:.0f}" for v in part["observed"])
    return f"{simulated} vs {observed}"


def main() -> None:
    out = out_dir(NAME)
    fit = pd.read_csv(out / "fit.csv")
    spread = pd.read_csv(out / "spread.csv")
    targets = list(dict.fromkeys(fit.target))
    tarp_small, tarp_large, problem_free, market = targets
    pf = fit[fit.target == problem_free].iloc[0]
    mk = fit[fit.target == market].iloc[0]
    worst = (fit[fit.likelihood == "binomial"]["simulated"] - fit["observed"]).abs().max() * 100
    headline = (
        f"{len(spread)} parameters fitted jointly to {len(fit)} figures: TARP under $5 "
        f"{cells(fit, tarp_small)}, over $100 {cells(fit, tarp_large)} (largest gap "
        f"{worst:.0f} points); problem-free customers leave {100 * pf.simulated:.1f}% a year "
        f"(band 3-8%), the market {100 * mk.simulated:.1f}% (band 10-25%); objective "
        f"{fit.contribution.sum():.1f}"
    )
    details = {
        "fit": fit[["target", "cell", "observed", "simulated", "ci95_low", "ci95_high"]]
        .round(4)
        .to_dict("records"),
        "parameters": spread[["parameter", "best", "good_low", "good_high"]]
        .round(5)
        .to_dict("records"),
        "command": "cxsim calibrate experiments/world_fit.toml --out DIR --workers 2",
    }
    write_headline(NAME, "The default world's joint fit", headline, details, kind="calibration")


if __name__ == "__main__":
    main()
