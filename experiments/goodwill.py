"""Experiment 5: does goodwill pay for itself.

The unconditional-guarantee story (scenarios/goodwill_guarantee.toml: 30% of
problems are not the store's fault, a goodwill gesture costs 300). The
guarantee store's goodwill generosity (chance it redresses a problem that was
not its fault) is varied from 0 to 1; everything else, including the luck, is
held fixed (common random numbers: replications 0-7 of seed 1 at every level).
Reported per level, relative to no goodwill: goodwill spent, extra positive word
of mouth, extra customers won by referral and held at the end, and the difference
in three-year profit and in NPV (discounted profit plus the customers held at the
horizon, who are worth their discounted margin stream). A result about the fitted
world.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.run import run_market
from cxsim.stats import mean_ci

NAME = "goodwill"
SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "goodwill_guarantee.toml"
LEVELS = [0.0, 0.25, 0.5, 0.75, 1.0]
REPLICATIONS = range(8)


def run(job: tuple[float, int]) -> dict:
    generosity, replication = job
    sc = scenario.load(
        SCENARIO,
        {
            "market.seed": 1,
            "market.customers": 10_000,
            "companies.0.policy.goodwill_probability": generosity,
        },
    )
    s = run_market(sc.params, replication, base_dir=sc.base_dir).summary().iloc[0]
    return {
        "generosity": generosity,
        "seed": replication,
        "goodwill_cost": s["goodwill_cost"],
        "wom_positive": s["wom_positive"],
        "referral_acquisitions": s["referral_acquisitions"],
        "customers": s["customers"],
        "acquired": s["acquired"],
        "profit": s["profit"],
        "npv": s["npv"],
        "retention": s["retention"],
    }


def main() -> None:
    import matplotlib.pyplot as plt

    out = out_dir(NAME)
    with Timer() as timer:
        runs = pd.DataFrame(parallel_map(run, [(g, r) for g in LEVELS for r in REPLICATIONS]))
    runs.to_csv(out / "runs.csv", index=False)
    base = runs[runs.generosity == 0].set_index("seed")
    rows = []
    for g in LEVELS:
        arm = runs[runs.generosity == g].set_index("seed")
        row = {"generosity": g}
        for figure in (
            "goodwill_cost",
            "wom_positive",
            "referral_acquisitions",
            "customers",
            "profit",
            "npv",
        ):
            mean, low, high = mean_ci(arm[figure] - base[figure])
            (
                row[f"extra_{figure}"],
                row[f"extra_{figure}_ci_low"],
                row[f"extra_{figure}_ci_high"],
            ) = mean, low, high
        row["goodwill_per_extra_customer"] = (
            row["extra_goodwill_cost"] / row["extra_customers"]
            if row["extra_customers"] > 0
            else float("nan")
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    table.to_csv(out / "goodwill.csv", index=False)
    print(table.round(1).to_string(index=False))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(table.generosity, table.extra_goodwill_cost, "o-", label="goodwill spent")
    ax.plot(table.generosity, table.extra_profit, "s-", label="extra profit (after goodwill)")
    ax.fill_between(
        table.generosity, table.extra_profit_ci_low, table.extra_profit_ci_high, alpha=0.2
    )
    ax.plot(table.generosity, table.extra_npv, "d-", label="extra NPV (customers held included)")
    ax.fill_between(table.generosity, table.extra_npv_ci_low, table.extra_npv_ci_high, alpha=0.2)
    ax.axhline(0, color="k", lw=0.5)
    ax.set(
        xlabel="goodwill generosity (chance a not-at-fault problem is redressed)",
        ylabel="vs no goodwill, 3 years",
        title="Does goodwill pay? (guarantee store, 10,000 people)",
    )
    ax2 = ax.twinx()
    ax2.plot(
        table.generosity,
        table.extra_customers,
        "^--",
        color="green",
        label="extra customers at the end",
    )
    ax2.set_ylabel("extra customers")
    ax.legend(loc="upper left", fontsize=8)
    ax2.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "goodwill.png", dpi=110)

    full = table[table.generosity == 1.0].iloc[0]

    def verdict(low: float, high: float) -> str:
        if low > 0:
            return "pays for itself"
        return "costs more than it earns" if high < 0 else "roughly breaks even"

    headline = (
        f"full goodwill costs {full.extra_goodwill_cost:,.0f} over 3 years, brings "
        f"{full.extra_wom_positive:,.0f} more positive word-of-mouth hearings, "
        f"{full.extra_referral_acquisitions:+.0f} customers won by referral and "
        f"{full.extra_customers:+.0f} customers at the end; profit {full.extra_profit:+,.0f} "
        f"[{full.extra_profit_ci_low:+,.0f}, {full.extra_profit_ci_high:+,.0f}] (goodwill "
        f"{verdict(full.extra_profit_ci_low, full.extra_profit_ci_high)} within 3 years), NPV "
        f"{full.extra_npv:+,.0f} [{full.extra_npv_ci_low:+,.0f}, {full.extra_npv_ci_high:+,.0f}] "
        f"(with the customers held: {verdict(full.extra_npv_ci_low, full.extra_npv_ci_high)})"
    )
    write_headline(NAME, "Goodwill pays?", headline, {"seconds": timer.seconds}, kind="result")


if __name__ == "__main__":
    main()
