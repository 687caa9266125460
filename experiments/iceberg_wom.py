"""Experiment 2: the complaint iceberg and word-of-mouth asymmetry.

Emergent problems per complaint, the serious share of problems, and listeners
per negative and positive teller, in the default manage-vs-fix market (small
world, one year, 5 seeds) and on a fully mixed population, against the
configured values and the seed figures (TARP: 26 problems per complaint, 6 of
them serious; unhappy customers tell 9-10, happy ones 4-5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline
from scipy import stats

from cxsim import Market, ModelParams

NAME = "iceberg_wom"
SEEDS = range(1, 6)
NETWORKS = ["small_world", "fully_mixed"]


def run(job: tuple[str, int]) -> pd.DataFrame:
    network, seed = job
    market = Market(
        **{
            "market.customers": 20_000,
            "market.days": 365,
            "market.seed": seed,
            "network.kind": network,
        }
    )
    totals = market.run().results_frame().groupby("company", observed=True).sum(numeric_only=True)
    totals["network"], totals["seed"] = network, seed
    totals["mean_degree"] = float(market.network.degree.mean())
    degrees = market.network.degree
    for sign, mean in (("negative", 9.5), ("positive", 4.5)):
        # Expected listeners per teller: E[min(Poisson(mean), degree)] over the population's degrees.
        if network == "fully_mixed":
            totals[f"expected_{sign}"] = mean
        else:
            k = np.arange(0, 200)
            pmf = stats.poisson.pmf(k, mean)
            deg_values, deg_counts = np.unique(degrees, return_counts=True)
            per_degree = [(np.minimum(k, d) * pmf).sum() for d in deg_values]
            totals[f"expected_{sign}"] = float(np.average(per_degree, weights=deg_counts))
    return totals.reset_index()


def main() -> None:
    import matplotlib.pyplot as plt

    out = out_dir(NAME)
    with Timer() as timer:
        frames = parallel_map(run, [(net, seed) for net in NETWORKS for seed in SEEDS])
    runs = pd.concat(frames, ignore_index=True)
    runs["problems_per_complaint"] = runs["problems"] / runs["complaints"]
    runs["serious_share"] = runs["serious_problems"] / runs["problems"]
    runs["listeners_per_negative_teller"] = runs["wom_negative"] / runs["negative_tellers"]
    runs["listeners_per_positive_teller"] = runs["wom_positive"] / runs["positive_tellers"]
    cols = [
        "problems_per_complaint",
        "serious_share",
        "listeners_per_negative_teller",
        "listeners_per_positive_teller",
        "expected_negative",
        "expected_positive",
    ]
    table = runs.groupby(["network", "company"])[cols].agg(["mean", "std"]).round(3)
    table.to_csv(out / "iceberg_wom.csv")
    print(table.to_string())

    p = ModelParams()
    s = p.behaviour.problems.serious_share
    voice = p.behaviour.voice
    configured_ratio = 1 / (voice.minor * (1 - s) + voice.serious * s)
    fixing = runs[(runs.network == "small_world") & (runs.company == "fixing")]
    managing = runs[(runs.network == "small_world") & (runs.company == "managing")]
    mixed = runs[runs.network == "fully_mixed"]

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    sw = runs[runs.network == "small_world"].groupby("company")["problems_per_complaint"].mean()
    axes[0].bar(sw.index, sw.values, color=["#d62728", "#2ca02c"])
    axes[0].axhline(26, color="k", ls="--", label="TARP: 26 per complaint")
    axes[0].set(title="Problems per complaint (small world)", ylabel="problems per complaint")
    axes[0].legend()
    means = runs.groupby("network")[
        ["listeners_per_negative_teller", "listeners_per_positive_teller"]
    ].mean()
    means.plot.bar(ax=axes[1], rot=0, color=["#d62728", "#2ca02c"])
    axes[1].axhspan(9, 10, color="#d62728", alpha=0.15, label="TARP unhappy 9-10")
    axes[1].axhspan(4, 5, color="#2ca02c", alpha=0.15, label="TARP happy 4-5")
    axes[1].set(title="Listeners per teller", ylabel="people told")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "iceberg_wom.png", dpi=110)

    headline = (
        f"fixing company: {fixing.problems_per_complaint.mean():.1f} problems per complaint "
        f"(configured {configured_ratio:.1f}, TARP 26), managing {managing.problems_per_complaint.mean():.0f}; "
        f"serious {fixing.serious_share.mean():.1%} (TARP 6/26 = 23%); listeners per unhappy/happy teller "
        f"{mixed.listeners_per_negative_teller.mean():.2f}/{mixed.listeners_per_positive_teller.mean():.2f} fully mixed"
    )
    write_headline(
        NAME,
        "Complaint iceberg and word-of-mouth asymmetry",
        headline,
        {"configured_problems_per_complaint": configured_ratio, "seconds": timer.seconds},
    )


if __name__ == "__main__":
    main()
