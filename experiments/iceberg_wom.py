"""Experiment 2: the complaint iceberg, how far word of mouth carries, and what praise wins.

The default world (two companies, one managing and one fixing complaints;
20,000 people, one year, seeds 1-5), on the default small world and on a
fully mixed market.

* **Iceberg** (verification: the voice parameters were chosen to give it):
  problems per complaint and the serious share of problems, against TARP's
  26 problems per complaint, 6 of them serious.
* **Listeners per first-hand teller** (verification: the audience parameters
  read back): people told by someone about their own experience, against
  ``negative_audience`` / ``positive_audience`` capped by the teller's
  contacts, E[min(Poisson(audience), degree)], and TARP's 9-10 and 4-5.
* **Reach per first-hand story, all generations**, the figure that matters
  for what a story does to a market: every hearing one first-hand story
  causes, its teller's listeners and those of every retelling after them,
  for negative and positive stories, and the negative : positive ratio
  (TARP's asymmetry is about 2 : 1). The estimator is fixed in
  :mod:`cxsim.reach`: a first-hand story is one telling by the person who had
  the experience (one per customer, company and day); each hearing counts
  (a person who hears one story twice counts twice, as it moves them twice;
  *people reached* counts them once); stories still being retold on the last
  day are left out. Public reviews are a separate channel, reported apart.
  On the fully mixed market the measured reach is set against the branching
  sum the rules imply (:func:`cxsim.reach.expected_reach_fully_mixed`).

* **Word-of-mouth adoption: imitation and referral.** In the default world
  (10,000 people, three years, replications 0-7 of seed 1), prospects adopted
  by advertising, by imitation (Bass q) and by referral (a contact's praise),
  per company, against imitation alone at Bass's meta-analytic q = 0.38 with
  referral off (the world before referral): total word-of-mouth adoption
  should be about the same (imitation was re-balanced for it), and referral
  acquisitions per 1,000 positive hearings say what a happy story is worth.

Means over seeds or replications with 95% t intervals (:func:`cxsim.stats.mean_ci`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim.palette import BAD, GOOD, NEUTRAL, company_colour
from cxsim.params import ModelParams, resolve
from cxsim.reach import (
    WordOfMouthReach,
    expected_listeners,
    expected_reach_fully_mixed,
)
from cxsim.run import run_market
from cxsim.stats import mean_ci

NAME = "iceberg_wom"
SEEDS = range(1, 6)
NETWORKS = ["small_world", "fully_mixed"]
SIZE = {"market.customers": 20_000, "market.days": 365}
#: Per-story figures of the reach observer reported here.
REACH = (
    "listeners_per_first_hand_story",
    "reach_per_first_hand_story",
    "people_reached_per_first_hand_story",
    "review_readers_per_first_hand_story",
)
SIGNS = ("negative", "positive", "negative : positive")
#: The world before referral: imitation alone at Bass's q (Sultan, Farley & Lehmann 1990).
IMITATION_ALONE = {"market.referral_probability": 0.0, "market.imitation_rate": 0.38}
ADOPTION_ARMS = {"defaults": {}, "imitation alone, q = 0.38": IMITATION_ALONE}
ADOPTION_REPLICATIONS = range(8)
CHANNELS = ("advertising_acquisitions", "imitation_acquisitions", "referral_acquisitions")


def run(job: tuple[str, int]) -> dict[str, pd.DataFrame]:
    """One market: its iceberg per company, reach per sign and hearings per generation."""
    network, seed = job
    params = resolve(None, {**SIZE, "market.seed": seed, "network.kind": network}, label=NAME)
    reach = WordOfMouthReach()
    market = run_market(params, observers=[reach])

    iceberg = market.results_frame().groupby("company", observed=True).sum(numeric_only=True)
    iceberg = pd.DataFrame(
        {
            "problems_per_complaint": iceberg["problems"] / iceberg["complaints"],
            "serious_share": iceberg["serious_problems"] / iceberg["problems"],
        }
    ).reset_index()

    totals = reach.totals().reset_index()
    wom = params.behaviour.word_of_mouth
    audiences = {"negative": wom.negative_audience, "positive": wom.positive_audience}
    degrees = market.network.degree if not market.network.fully_mixed else None
    expected = {
        sign: a if degrees is None else expected_listeners(a, degrees)
        for sign, a in audiences.items()
    }
    expected["negative : positive"] = expected["negative"] / expected["positive"]
    totals["expected_listeners"] = totals["sign"].map(expected)

    generations = reach.generations()
    for frame in (iceberg, totals, generations):
        frame["network"], frame["seed"] = network, seed
    return {"iceberg": iceberg, "reach": totals, "generations": generations}


def adoption(job: tuple[str, int]) -> pd.DataFrame:
    """One default-world run (three years): prospects won per channel, per company."""
    arm, replication = job
    params = resolve(None, ADOPTION_ARMS[arm], label=NAME)
    summary = run_market(params, replication).summary()
    frame = summary[[*CHANNELS, "wom_positive"]].reset_index()
    frame["word_of_mouth_acquisitions"] = (
        frame["imitation_acquisitions"] + frame["referral_acquisitions"]
    )
    frame["arm"], frame["replication"] = arm, replication
    return frame


def summarise_adoption(runs: pd.DataFrame) -> pd.DataFrame:
    """Per arm and company (and all companies): acquisitions per channel and referral's worth."""
    market = runs.groupby(["arm", "replication"], as_index=False, sort=False).sum(numeric_only=True)
    market["company"] = "all"
    both = pd.concat([runs, market], ignore_index=True)
    both["referral_share_of_word_of_mouth"] = (
        both["referral_acquisitions"] / both["word_of_mouth_acquisitions"]
    )
    both["referral_per_1000_positive_hearings"] = (
        1000 * both["referral_acquisitions"] / both["wom_positive"]
    )
    figures = [
        *CHANNELS,
        "word_of_mouth_acquisitions",
        "wom_positive",
        "referral_share_of_word_of_mouth",
        "referral_per_1000_positive_hearings",
    ]
    return summarise(both, ["arm", "company"], figures)


def summarise(runs: pd.DataFrame, keys: list[str], figures: list[str]) -> pd.DataFrame:
    """Mean and 95% interval over seeds of ``figures``, per ``keys``."""
    rows = []
    for labels, group in runs.groupby(keys, sort=False):
        row = dict(zip(keys, labels if isinstance(labels, tuple) else (labels,), strict=True))
        for figure in figures:
            row[figure], row[f"{figure}_ci_low"], row[f"{figure}_ci_high"] = mean_ci(group[figure])
        rows.append(row)
    return pd.DataFrame(rows)


def expected_reach(params: ModelParams) -> dict[str, float]:
    """Reach per first-hand story the rules imply on a fully mixed market, and its ratio."""
    wom = params.behaviour.word_of_mouth
    out = {sign: expected_reach_fully_mixed(wom, sign) for sign in ("negative", "positive")}
    out["negative : positive"] = out["negative"] / out["positive"]
    return out


def adoption_headline(channels: pd.DataFrame) -> str:
    """Word-of-mouth adoption in the default world, in a sentence."""
    at = channels.set_index(["arm", "company"])
    now, before = at.loc[("defaults", "all")], at.loc[("imitation alone, q = 0.38", "all")]
    fixing_share = (
        at.loc[("defaults", "fixing"), "referral_acquisitions"] / (now["referral_acquisitions"])
    )
    return (
        f"Word-of-mouth adoption in the default world (3 years): "
        f"{now['word_of_mouth_acquisitions']:.0f} (imitation {now['imitation_acquisitions']:.0f}, "
        f"referral {now['referral_acquisitions']:.0f} = "
        f"{now['referral_share_of_word_of_mouth']:.0%}, {fixing_share:.0%} of it to the fixing "
        f"company) against {before['word_of_mouth_acquisitions']:.0f} by imitation alone at "
        f"q = 0.38; {now['referral_per_1000_positive_hearings']:.1f} referral acquisitions per "
        f"1,000 positive hearings"
    )


def draw(iceberg: pd.DataFrame, reach: pd.DataFrame, path: object) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    sw = iceberg[iceberg.network == "small_world"]
    axes[0].bar(
        sw.company, sw.problems_per_complaint, color=[company_colour(i) for i in range(len(sw))]
    )
    axes[0].axhline(26, color="k", ls="--", label="TARP: 26 per complaint")
    axes[0].set(title="Problems per complaint (small world)", ylabel="problems per complaint")
    axes[0].legend(fontsize=8)
    for ax, figure, title in (
        (axes[1], "listeners_per_first_hand_story", "Listeners per first-hand teller"),
        (axes[2], "reach_per_first_hand_story", "Reach per first-hand story, all generations"),
    ):
        x = np.arange(len(NETWORKS))
        for j, (sign, colour) in enumerate((("negative", BAD), ("positive", GOOD))):
            rows = reach[reach.sign == sign].set_index("network").loc[NETWORKS]
            err = [
                rows[figure] - rows[f"{figure}_ci_low"],
                rows[f"{figure}_ci_high"] - rows[figure],
            ]
            ax.bar(x + (j - 0.5) * 0.38, rows[figure], 0.38, yerr=err, color=colour, label=sign)
        ax.axhspan(9, 10, color=BAD, alpha=0.12, label="TARP unhappy 9-10")
        ax.axhspan(4, 5, color=GOOD, alpha=0.12, label="TARP happy 4-5")
        ax.set_xticks(x, [n.replace("_", " ") for n in NETWORKS])
        ax.set(title=title, ylabel="people")
        ax.set_ylim(0, 1.4 * max(10.0, reach[reach.sign == "negative"][figure].max()))
        ax.legend(fontsize=7, ncol=2)
    ratios = reach[reach.sign == "negative : positive"].set_index("network")
    axes[2].set_xlabel(
        "negative : positive  "
        + ", ".join(
            f"{n.replace('_', ' ')} {ratios.loc[n, 'reach_per_first_hand_story']:.2f}"
            for n in NETWORKS
        ),
        color=NEUTRAL,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    out = out_dir(NAME)
    with Timer() as timer:
        results = parallel_map(run, [(net, seed) for net in NETWORKS for seed in SEEDS])
        adoption_runs = pd.concat(
            parallel_map(adoption, [(a, r) for a in ADOPTION_ARMS for r in ADOPTION_REPLICATIONS]),
            ignore_index=True,
        )
    runs = {part: pd.concat([r[part] for r in results], ignore_index=True) for part in results[0]}
    channels = summarise_adoption(adoption_runs)
    channels.to_csv(out / "adoption.csv", index=False)

    iceberg = summarise(
        runs["iceberg"], ["network", "company"], ["problems_per_complaint", "serious_share"]
    )
    reach = summarise(runs["reach"], ["network", "sign"], [*REACH, "expected_listeners"])
    defaults = ModelParams()
    rules = expected_reach(defaults)
    reach["expected_reach_fully_mixed"] = reach["sign"].map(rules)
    generations = (
        runs["generations"]
        .groupby(["network", "generation", "sign"], sort=False)[["tellings", "hearings"]]
        .sum()
        .assign(hearings_per_telling=lambda f: f.hearings / f.tellings)
        .reset_index()
    )
    iceberg.to_csv(out / "iceberg_wom.csv", index=False)
    reach.to_csv(out / "reach.csv", index=False)
    generations.to_csv(out / "generations.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(iceberg.round(3).to_string(index=False))
        print(reach[["network", "sign", *REACH, "expected_listeners"]].round(3).to_string())
        print(generations.round(3).to_string(index=False))
        print(channels[["arm", "company", *CHANNELS]].round(1).to_string(index=False))
    draw(iceberg, reach, out / "iceberg_wom.png")

    voice, s = defaults.behaviour.voice, defaults.behaviour.problems.serious_share
    configured_ratio = 1 / (voice.minor * (1 - s) + voice.serious * s)
    ice = iceberg.set_index(["network", "company"]).loc["small_world"]
    at = reach.set_index(["network", "sign"])

    def per_story(network: str, figure: str) -> str:
        neg, pos, ratio = (at.loc[(network, sign), figure] for sign in SIGNS)
        return f"{neg:.2f}/{pos:.2f} ({ratio:.2f} : 1)"

    headline = (
        f"verification: fixing company {ice.loc['fixing', 'problems_per_complaint']:.1f} problems per "
        f"complaint (configured {configured_ratio:.1f}, TARP 26), managing "
        f"{ice.loc['managing', 'problems_per_complaint']:.0f}; serious "
        f"{ice.loc['fixing', 'serious_share']:.1%} (TARP 6/26 = 23%); listeners per first-hand "
        f"unhappy/happy teller {per_story('fully_mixed', 'listeners_per_first_hand_story')} fully "
        f"mixed. Reach per first-hand story, all generations, unhappy/happy: "
        f"{per_story('fully_mixed', 'reach_per_first_hand_story')} fully mixed (rules imply "
        f"{rules['negative']:.2f}/{rules['positive']:.2f}), "
        f"{per_story('small_world', 'reach_per_first_hand_story')} on the small world "
        f"(TARP about 2 : 1). {adoption_headline(channels)}"
    )
    details = {
        "configured_problems_per_complaint": configured_ratio,
        "seconds": timer.seconds,
        **{
            f"{network}.{sign}.{figure}": at.loc[(network, sign), figure]
            for network in NETWORKS
            for sign in SIGNS
            for figure in REACH
        },
        **{
            f"adoption.{arm}.{figure}": channels.set_index(["arm", "company"]).loc[
                (arm, "all"), figure
            ]
            for arm in ADOPTION_ARMS
            for figure in (*CHANNELS, "referral_per_1000_positive_hearings")
        },
    }
    write_headline(
        NAME,
        "Complaint iceberg, word-of-mouth reach and referral",
        headline,
        details,
        kind="verification",
    )


if __name__ == "__main__":
    main()
