"""Experiment 6: a broken promise by design.

The free-delivery promotion (scenarios/free_delivery_promotion.toml): for 90
days a store advertises free delivery, which 10% of people (those past the
delivery boundary) are promised but cannot get. The same store without the
over-promise (excluded_share = 0, same seeds: common random numbers) is the
counterfactual. Reported over one year: the share of the store's day-0
customers it lost, separately for the excluded customers, their network
neighbours (not excluded themselves) and everyone else.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import Market, scenario
from cxsim.stats import mean_ci

NAME = "broken_promise"
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "free_delivery_promotion.toml"
SEEDS = range(1, 9)


def run(job: tuple[bool, int]) -> dict:
    over_promise, seed = job
    overrides = {"market.seed": seed, "market.days": 365}
    if not over_promise:
        overrides["companies.0.promotions.0.excluded_share"] = 0.0
    sc = scenario.load(SCENARIO, overrides)
    market = Market(sc.params, base_dir=sc.base_dir)
    excluded_share = scenario.load(SCENARIO).params.companies[0].promotions[0].excluded_share
    c = market.customers
    day0 = np.flatnonzero(c.provider == 0)
    excluded = c.location >= 1.0 - excluded_share  # the same people in both arms
    has_excluded_contact = np.zeros(c.n, dtype=bool)
    has_excluded_contact[market.network.contacts(np.flatnonzero(excluded))[1]] = True
    neighbour = has_excluded_contact & ~excluded
    market.run()
    lost = ~((c.provider[day0] == 0) & (c.join_day[day0] <= 0))
    groups = {
        "excluded": excluded[day0],
        "neighbours": neighbour[day0],
        "others": ~excluded[day0] & ~neighbour[day0],
    }
    row = {"over_promise": over_promise, "seed": seed}
    for group, mask in groups.items():
        row[f"{group}_customers"] = int(mask.sum())
        row[f"{group}_lost"] = float(lost[mask].mean())
    row["broken_promises"] = float(
        market.summary().loc[market.companies[0].name, "broken_promises"]
    )
    return row


def main() -> None:
    import matplotlib.pyplot as plt

    out = out_dir(NAME)
    with Timer() as timer:
        runs = pd.DataFrame(parallel_map(run, [(o, s) for o in (True, False) for s in SEEDS]))
    runs.to_csv(out / "runs.csv", index=False)
    over = runs[runs.over_promise].set_index("seed")
    honest = runs[~runs.over_promise].set_index("seed")
    rows = []
    for group in ("excluded", "neighbours", "others"):
        mean, low, high = mean_ci(over[f"{group}_lost"] - honest[f"{group}_lost"])
        rows.append(
            {
                "group": group,
                "customers": over[f"{group}_customers"].mean(),
                "lost_over_promising": over[f"{group}_lost"].mean(),
                "lost_honest": honest[f"{group}_lost"].mean(),
                "extra_loss_points": 100 * mean,
                "ci95_low": 100 * low,
                "ci95_high": 100 * high,
            }
        )
    table = pd.DataFrame(rows)
    table.to_csv(out / "broken_promise.csv", index=False)
    print(table.round(3).to_string(index=False))

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, 100 * table.lost_honest, 0.4, label="honest promotion")
    ax.bar(x + 0.2, 100 * table.lost_over_promising, 0.4, label="over-promising promotion")
    ax.set_xticks(x, table.group)
    ax.set(ylabel="% of day-0 customers lost in a year", title="Free delivery past the boundary")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "broken_promise.png", dpi=110)
    t = table.set_index("group")
    headline = (
        f"over-promising loses {t.loc['excluded', 'extra_loss_points']:+.1f} points more of the excluded customers "
        f"({100 * t.loc['excluded', 'lost_over_promising']:.0f}% vs {100 * t.loc['excluded', 'lost_honest']:.0f}%), "
        f"{t.loc['neighbours', 'extra_loss_points']:+.1f} points of their neighbours "
        f"[{t.loc['neighbours', 'ci95_low']:+.1f}, {t.loc['neighbours', 'ci95_high']:+.1f}] and "
        f"{t.loc['others', 'extra_loss_points']:+.1f} of everyone else, within a year"
    )
    write_headline(
        NAME, "Broken promise by design", headline, {"seconds": timer.seconds}, kind="result"
    )


if __name__ == "__main__":
    main()
