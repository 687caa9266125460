"""Experiment 8: network structure and negative word of mouth.

The default manage-vs-fix market on small-world, scale-free, random and fully
mixed networks (same mean degree 10, 20,000 people, one year, 3 seeds).
Reported: how fast and how far negative word of mouth about the managing
company travels (the share of people who have heard at least one negative story
about it, by day), and what that does to its churn and share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import Market

NAME = "network_structure"
NETWORKS = ["small_world", "scale_free", "random", "fully_mixed"]
SEEDS = range(1, 4)
N = 20_000
DAYS = 365


def run(job: tuple[str, int]) -> dict:
    network, seed = job
    market = Market(
        **{
            "market.customers": N,
            "market.days": DAYS,
            "market.seed": seed,
            "network.kind": network,
            "journey.sample_size": N,
            "journey.max_events": 20_000_000,
        }
    )
    market.run()
    log = market.journey_frame()
    heard = log[(log.event == "heard_negative") & (log.company == "managing")]
    first = heard.groupby("customer")["day"].min()
    reach = np.bincount(first.to_numpy(), minlength=DAYS + 1).cumsum() / N
    s = market.summary()
    return {
        "network": network,
        "seed": seed,
        "reach": reach,
        "managing_churn": s.loc["managing", "annual_churn"],
        "fixing_churn": s.loc["fixing", "annual_churn"],
        "managing_share": s.loc["managing", "market_share"],
        "wom_negative_per_problem": s.loc["managing", "wom_negative"]
        / s.loc["managing", "problems"],
    }


def main() -> None:
    import matplotlib.pyplot as plt

    out = out_dir(NAME)
    with Timer() as timer:
        rows = parallel_map(run, [(net, seed) for net in NETWORKS for seed in SEEDS])
    fig, ax = plt.subplots(figsize=(6, 4))
    records = []
    for network in NETWORKS:
        reach = np.mean([r["reach"] for r in rows if r["network"] == network], axis=0)
        ax.plot(np.arange(DAYS + 1), reach, label=network)
        half = int(np.argmax(reach >= 0.5)) if reach[-1] >= 0.5 else None
        records.append(
            {
                "network": network,
                "reach_30_days": reach[30],
                "reach_90_days": reach[90],
                "reach_one_year": reach[-1],
                "days_to_half": half,
            }
        )
    ax.set(
        xlabel="day",
        ylabel="share who heard a negative story",
        title="Reach of negative word of mouth about the managing company",
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "reach.png", dpi=110)
    outcomes = pd.DataFrame([{k: v for k, v in r.items() if k != "reach"} for r in rows])
    table = (
        pd.DataFrame(records)
        .set_index("network")
        .join(outcomes.groupby("network").mean(numeric_only=True).drop(columns="seed"))
    )
    table.round(4).to_csv(out / "network_structure.csv")
    print(table.round(3).to_string())
    fastest = table["reach_90_days"].idxmax()
    slowest = table["reach_90_days"].idxmin()
    headline = (
        f"negative WOM about the managing company reaches {table.loc[fastest, 'reach_90_days']:.0%} in 90 days on "
        f"{fastest} vs {table.loc[slowest, 'reach_90_days']:.0%} on {slowest}; its annual churn "
        f"{table['managing_churn'].min():.1%}-{table['managing_churn'].max():.1%} across structures"
    )
    write_headline(NAME, "Network structure", headline, {"seconds": timer.seconds}, kind="result")


if __name__ == "__main__":
    main()
