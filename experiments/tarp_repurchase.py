"""Experiment 3 (calibration): TARP's repurchase table in the default world.

TARP's table (as widely reproduced) gives the share of customers who buy again
by what became of their problem. Losses under $5: did not complain 37%,
complained and not satisfied 46%, complained and satisfied 70%, satisfied
quickly 95%; losses over $100: 9%, 19%, 54%, 82%.

Both tables are **targets of the world's joint fit** (``experiments/world_fit.toml``,
committed fit in ``experiments/results/world_fit/``), so this experiment is a
*calibration* record, not a validation: it measures the fitted default world in
the TARP shop (``scenarios/tarp_repurchase.toml``: one shop, the default
behaviour, word of mouth off, complaints handled on the day) on replications
0-3 of the scenario's seed, which the fit never ran. New seeds do not make a fit
out of sample; they only show that the fit's numbers are not one seed's luck.

**Measurement**: the calibration's own online count
(:class:`cxsim.calibrate.repurchase.RepurchaseCounter`; the rule is in that
module's docstring): problems of the measured year (days 366-730), by outcome
class, and whether the customer's next step was a purchase from the same shop.
Each class's share is pooled per replication; the table gives the mean over
replications and a 95% t interval over replications, clipped to [0, 100].
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.calibrate.repurchase import CLASSES, TARP_LARGE, TARP_SMALL, RepurchaseCounter
from cxsim.run import run_market
from cxsim.stats import mean_ci

NAME = "tarp_repurchase"
FROM_DAY, TO_DAY = 366, 730
LOSSES = {"minor": TARP_SMALL, "serious": TARP_LARGE}


def simulate(replication: int) -> dict[str, list[float]]:
    """One replication of the TARP shop: repurchase share and cases per class and loss size."""
    params = scenario.load("tarp_repurchase").params
    counter = RepurchaseCounter()
    run_market(params, replication, observers=[counter])
    found: dict[str, list[float]] = {}
    for loss in LOSSES:
        table = counter.table(loss, company=0, from_day=FROM_DAY, to_day=TO_DAY)
        found[loss] = table["repurchase"].tolist()
        found[f"{loss}_cases"] = table["cases"].tolist()
    return found


def summarise(runs: Sequence[dict[str, list[float]]], loss: str) -> pd.DataFrame:
    """TARP against the simulated share per class (percent), with a 95% CI over replications."""
    rows = []
    for c, name in enumerate(CLASSES):
        shares = np.array([run[loss][c] for run in runs]) * 100
        mean, low, high = mean_ci(shares, lower=0.0, upper=100.0)
        rows.append(
            {
                "class": name,
                "TARP": LOSSES[loss][c] * 100,
                "simulated": mean,
                "ci_low": low,
                "ci_high": high,
                "cases_per_run": float(np.mean([run[f"{loss}_cases"][c] for run in runs])),
            }
        )
    table = pd.DataFrame(rows)
    table["error"] = table["simulated"] - table["TARP"]
    return table


def plot(small: pd.DataFrame, large: pd.DataFrame, path: Path, replications: int) -> None:
    """TARP vs simulated repurchase by class, small and large losses, with 95% CIs."""
    import matplotlib.pyplot as plt

    from cxsim.palette import company_colour

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    x = np.arange(len(CLASSES))
    labels = [c.replace(", ", ",\n") for c in CLASSES]
    for ax, table, title in (
        (axes[0], small, "Losses under $5"),
        (axes[1], large, "Losses over $100"),
    ):
        sim = table["simulated"].to_numpy()
        err = np.vstack([sim - table["ci_low"], table["ci_high"] - sim])
        ax.bar(x - 0.2, table["TARP"], 0.4, color="#7f7f7f", label="TARP")
        ax.bar(
            x + 0.2, sim, 0.4, yerr=err, capsize=4, color=company_colour(0), label="cxsim (95% CI)"
        )
        for xi, t, s in zip(x, table["TARP"], sim, strict=True):
            ax.text(xi - 0.2, t + 1.5, f"{t:.0f}", ha="center", fontsize=8)
            ax.text(xi + 0.2, s + 3.0, f"{s:.0f}", ha="center", fontsize=8)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set(title=title, ylim=(0, 105))
    axes[0].set_ylabel("repurchase (%)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(
        f"Repurchase by complaint outcome in the fitted default world: TARP vs cxsim "
        f"(calibration targets; {replications} replications)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def percents(table: pd.DataFrame, column: str) -> str:
    """A class column as '37/46/70/95'."""
    return "/".join(f"{v:.0f}" for v in table[column])


def main(argv: Sequence[str] | None = None) -> None:
    """Measure the table, write table.csv, large_losses.csv, repurchase.png, headline.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    out = out_dir(NAME)
    with Timer() as timer:
        runs = parallel_map(simulate, range(args.replications), workers=args.workers)
    small, large = summarise(runs, "minor"), summarise(runs, "serious")
    small.round(2).to_csv(out / "table.csv", index=False)
    large.round(2).to_csv(out / "large_losses.csv", index=False)
    plot(small, large, out / "repurchase.png", args.replications)
    worst = max(small["error"].abs().max(), large["error"].abs().max())
    headline = (
        f"fitted world, TARP shop: losses under $5 {percents(small, 'simulated')} vs TARP "
        f"{percents(small, 'TARP')}; over $100 {percents(large, 'simulated')} vs "
        f"{percents(large, 'TARP')} (largest gap {worst:.0f} points; fit targets, not validation)"
    )
    details: dict[str, Any] = {
        "scenario": "scenarios/tarp_repurchase.toml",
        "replications": args.replications,
        "measured_problem_days": [FROM_DAY, TO_DAY],
        "small": small.round(2).to_dict("records"),
        "large": large.round(2).to_dict("records"),
        "seconds": round(timer.seconds, 1),
    }
    write_headline(NAME, "TARP repurchase table", headline, details, kind="calibration")


if __name__ == "__main__":
    main()
