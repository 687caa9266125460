"""Experiment 4: manage vs fix in the fitted world, decomposed by mechanism.

The flagship (``scenarios/manage_vs_fix.toml``: two otherwise identical
companies, one that manages complaints and one that fixes them, 20,000 people,
three years). Three parts:

1. **The headline**: 30 paired replications (replications 0-29 of seed 1; both
   companies live in the same market, so every replication compares them on the
   same luck); differences fixing minus managing with paired 95% t intervals.
2. **Which mechanisms carry it**: the gap in retention, market share and NPV
   (fixing minus managing) decomposed over six mechanisms, each switched off by
   removing what makes the two companies differ in it: *learning* (the fixing
   company learns nothing), *follow-ups* (no company follows up waiting or unvoiced
   problems), *refunds* (no company refunds), *call-backs* (the managing company
   promises none), *goodwill* (the fixing company redresses nothing it did not
   cause) and *word of mouth* (nobody tells or reviews: a counterfactual of
   behaviour, named as such). The mechanisms interact (removing learning alone
   used to flip the profit gap), so the decomposition is the Shapley value over
   all 2^6 = 64 combinations, computed per replication on common random numbers
   (replications 0-3 of seed 1) and reported with 95% intervals over replications.
   What no mechanism explains is the gap with all six off (handling, fixes, CRM
   touches, reachability, apology, review answers).
3. **The fit's uncertainty**: the all-on gap rerun at the calibration's good
   parameter sets (the trials it marked good in
   ``experiments/results/world_fit/trials.parquet``, up to 8 sets at evenly spaced
   ranks from the best to the margin, 4 replications each), so the spread over
   parameter sets is reported beside the spread over replications.

A result about the fitted world, not a calibration target.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
from common import RESULTS, Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.calibrate.spec import load_calibration, tied_values
from cxsim.run import run_market
from cxsim.stats import mean_ci
from cxsim.summary import FIGURES

NAME = "manage_vs_fix"
EXPERIMENTS = Path(__file__).resolve().parent
FLAGSHIP = EXPERIMENTS.parent / "scenarios" / "manage_vs_fix.toml"
REPLICATIONS = 30
DECOMPOSITION_REPLICATIONS = 4  # 64 combinations x 4 = 256 runs: what this session's time allowed
GOOD_SETS = 8
GOOD_SET_REPLICATIONS = 4
GAPS = ("retention", "market_share", "npv")

#: Mechanism -> the overrides that switch it off (remove what makes the companies differ in it).
MECHANISMS: dict[str, dict[str, object]] = {
    "learning": {"companies.1.policy.learning_rate": 0.0},
    "follow-ups": {
        "companies.0.policy.shares_service_information": False,
        "companies.1.policy.shares_service_information": False,
        "companies.0.policy.proactive_follow_ups": False,
        "companies.1.policy.proactive_follow_ups": False,
    },
    "refunds": {
        "companies.0.policy.refund_rule": "never",
        "companies.1.policy.refund_rule": "never",
    },
    "call-backs": {"companies.0.policy.callback_probability": 0.0},
    "goodwill": {"companies.1.policy.goodwill_probability": 0.0},
    "word of mouth": {
        "behaviour.word_of_mouth.negative_tell_probability": 0.0,
        "behaviour.word_of_mouth.positive_tell_probability": 0.0,
        "behaviour.word_of_mouth.promoter_tell_probability": 0.0,
        "behaviour.word_of_mouth.negative_review_probability": 0.0,
        "behaviour.word_of_mouth.positive_review_probability": 0.0,
    },
}


def summary_of(overrides: dict, replication: int) -> pd.DataFrame:
    loaded = scenario.load(FLAGSHIP, overrides)
    return run_market(loaded.params, replication, base_dir=loaded.base_dir).summary()


def gaps(summary: pd.DataFrame) -> dict[str, float]:
    """Fixing minus managing, for the decomposed figures."""
    return {g: float(summary.loc["fixing", g] - summary.loc["managing", g]) for g in GAPS}


# --------------------------------------------------------------------------- 1. the headline


def headline_run(replication: int) -> pd.DataFrame:
    summary = summary_of({}, replication)
    summary["replication"] = replication
    return summary.reset_index()


def headline_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for figure in FIGURES:
        wide = runs.pivot(index="replication", columns="company", values=figure)
        for company in ("managing", "fixing"):
            mean, low, high = mean_ci(wide[company])
            rows.append(
                {"figure": figure, "who": company, "mean": mean, "ci95_low": low, "ci95_high": high}
            )
        mean, low, high = mean_ci(wide["fixing"] - wide["managing"])
        rows.append(
            {
                "figure": figure,
                "who": "fixing - managing",
                "mean": mean,
                "ci95_low": low,
                "ci95_high": high,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- 2. Shapley values


def combination_run(job: tuple[tuple[str, ...], int]) -> dict:
    """The gaps with the mechanisms in ``on`` on and the others off."""
    on, replication = job
    overrides: dict[str, object] = {}
    for mechanism, switch_off in MECHANISMS.items():
        if mechanism not in on:
            overrides.update(switch_off)
    return {"on": on, "replication": replication, **gaps(summary_of(overrides, replication))}


def shapley(values: dict[frozenset, float], players: list[str]) -> dict[str, float]:
    """Shapley value of each player for the game ``values`` (coalition -> worth)."""
    n = len(players)
    phi = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for coalition in itertools.combinations(others, size):
                s = frozenset(coalition)
                total += weight * (values[s | {player}] - values[s])
        phi[player] = total
    return phi


def decomposition(runs: pd.DataFrame) -> pd.DataFrame:
    """Per gap and mechanism: the Shapley value with its 95% interval over replications."""
    players = list(MECHANISMS)
    rows = []
    for gap in GAPS:
        per_replication = []
        for _, part in runs.groupby("replication"):
            worth = {frozenset(on): v for on, v in zip(part["on"], part[gap], strict=True)}
            phi = shapley(worth, players)
            phi["all mechanisms off (the rest)"] = worth[frozenset()]
            phi["total (all on)"] = worth[frozenset(players)]
            per_replication.append(phi)
        table = pd.DataFrame(per_replication)
        for column in table.columns:
            mean, low, high = mean_ci(table[column])
            rows.append(
                {"gap": gap, "part": column, "mean": mean, "ci95_low": low, "ci95_high": high}
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- 3. the fit's spread


def good_set_run(job: tuple[int, dict, int]) -> dict:
    index, values, replication = job
    return {"set": index, "replication": replication, **gaps(summary_of(values, replication))}


def good_sets() -> list[dict]:
    """Up to GOOD_SETS of the fit's good parameter sets, spread from the best to the margin.

    The good fits are the trials the calibration marked good (objective within the margin
    of the best; ``trials.parquet``); they are ranked by objective and taken at evenly
    spaced ranks, so the sets cover the region rather than its best corner. Each set's
    tied parameters are derived from it as in the fit (``world_fit.toml``'s ``[ties]``).
    """
    path = RESULTS / "world_fit" / "trials.parquet"
    if not path.exists():
        return []
    calibration = load_calibration(EXPERIMENTS / "world_fit.toml")
    trials = pd.read_parquet(path)
    good = trials[trials["good"]].sort_values("objective").reset_index(drop=True)
    ranks = sorted({round(float(i)) for i in np.linspace(0, len(good) - 1, GOOD_SETS)})
    sets = []
    for _, row in good.iloc[ranks].iterrows():
        values = {p.key: float(row[p.key]) for p in calibration.parameters}
        sets.append({**values, **tied_values(calibration.ties, values)})
    return sets


def fit_spread(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = []
    for gap in GAPS:
        per_set = frame.groupby("set")[gap].mean()
        within = frame.groupby("set")[gap].std(ddof=1).mean()
        out.append(
            {
                "gap": gap,
                "sets": int(per_set.size),
                "mean_over_sets": float(per_set.mean()),
                "min_over_sets": float(per_set.min()),
                "max_over_sets": float(per_set.max()),
                "sd_between_sets": float(per_set.std(ddof=1)) if per_set.size > 1 else math.nan,
                "sd_between_replications": float(within),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    out = out_dir(NAME)
    with Timer() as timer:
        runs = pd.concat(parallel_map(headline_run, range(REPLICATIONS)), ignore_index=True)
        table = headline_table(runs)
        combos = [
            tuple(on)
            for size in range(len(MECHANISMS) + 1)
            for on in itertools.combinations(MECHANISMS, size)
        ]
        jobs = [(on, r) for on in combos for r in range(DECOMPOSITION_REPLICATIONS)]
        combination_runs = pd.DataFrame(parallel_map(combination_run, jobs))
        shap = decomposition(combination_runs)
        sets = good_sets()
        set_jobs = [(i, v, r) for i, v in enumerate(sets) for r in range(GOOD_SET_REPLICATIONS)]
        spread = fit_spread(parallel_map(good_set_run, set_jobs)) if sets else pd.DataFrame()
    runs.to_csv(out / "replications.csv", index=False)
    table.to_csv(out / "headline.csv", index=False)
    combination_runs.assign(on=combination_runs["on"].map(" + ".join)).to_csv(
        out / "combinations.csv", index=False
    )
    shap.to_csv(out / "decomposition.csv", index=False)
    spread.to_csv(out / "fit_spread.csv", index=False)
    plot_decomposition(shap, out)
    write_headline(
        NAME,
        "Manage vs fix, decomposed",
        headline_text(table, shap, spread),
        {"seconds": timer.seconds, "mechanisms": list(MECHANISMS)},
        kind="result",
    )


def headline_text(table: pd.DataFrame, shap: pd.DataFrame, spread: pd.DataFrame) -> str:
    def diff(figure: str) -> pd.Series:
        return table[(table.figure == figure) & (table.who == "fixing - managing")].iloc[0]

    r, n = diff("retention"), diff("npv")
    retention = shap[shap.gap == "retention"].set_index("part")
    mechanisms = retention.drop(index=["total (all on)", "all mechanisms off (the rest)"])
    ranked = mechanisms["mean"].abs().sort_values(ascending=False)
    carriers = [
        f"{m} {retention.loc[m, 'mean']:+.1%} [{retention.loc[m, 'ci95_low']:+.1%}, {retention.loc[m, 'ci95_high']:+.1%}]"
        for m in ranked.index[:3]
    ]
    rest = retention.loc["all mechanisms off (the rest)"]
    text = (
        f"over 3 years ({REPLICATIONS} paired replications) fixing keeps {r['mean']:+.1%} more of its "
        f"customers [{r['ci95_low']:+.1%}, {r['ci95_high']:+.1%}], NPV {n['mean']:+,.0f} "
        f"[{n['ci95_low']:+,.0f}, {n['ci95_high']:+,.0f}]; of the retention gap (Shapley, "
        f"{DECOMPOSITION_REPLICATIONS} replications) {'; '.join(carriers)}, and "
        f"{rest['mean']:+.1%} with all six off (handling, fixes, CRM, apology, reviews)"
    )
    if not spread.empty:
        s = spread.set_index("gap").loc["retention"]
        text += (
            f"; over {int(s.sets)} good parameter sets of the fit the retention gap ranges "
            f"{s.min_over_sets:+.1%} to {s.max_over_sets:+.1%} (sd {s.sd_between_sets:.1%} between "
            f"sets, {s.sd_between_replications:.1%} between replications)"
        )
    return text


def plot_decomposition(shap: pd.DataFrame, out: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(GAPS), figsize=(5 * len(GAPS), 4))
    for ax, gap in zip(axes, GAPS, strict=True):
        part = shap[shap.gap == gap].set_index("part")
        labels = list(part.index)
        y = np.arange(len(labels))
        ax.barh(
            y,
            part["mean"],
            xerr=[part["mean"] - part["ci95_low"], part["ci95_high"] - part["mean"]],
        )
        ax.set_yticks(y, labels, fontsize=8)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_title(f"{gap} gap, fixing - managing")
    fig.tight_layout()
    fig.savefig(out / "decomposition.png", dpi=110)


if __name__ == "__main__":
    main()
