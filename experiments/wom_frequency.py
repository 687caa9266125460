"""Held-out validation: positive word of mouth is more frequent than negative (East, Hammond & Wright 2007).

East, Hammond & Wright (2007) found positive word of mouth more frequent than
negative in most of the categories they surveyed (about three positive mentions
to one negative, on average). That is a count of tellings, not the audience per
telling (TARP's 9-10 against 4-5 listeners, which is an input of the model and
only read back, in experiment 2). Nothing in the world's fit targets how often
people tell; how often they do follows from how often experiences are good or
bad enough to tell (problems, fixes, refunds, goodwill, promoters' ordinary
purchases) and from the tell probabilities, which are assumptions. A weak
check, honestly: the tell probabilities decide much of it.

**Estimator (fixed before it was run on the fitted world; do not change it after
looking).** In the default two-company market (``scenarios/manage_vs_fix.toml``:
20,000 people, three years), replications 0-4 of seed 1: the number of
positive tellings divided by the number of negative tellings over the whole run,
both companies together, where a telling is a person telling a story on a day
(first-hand or retold; the metrics ``positive_tellers`` and ``negative_tellers``).
Reported with its 95% interval over replications, and per company. The check
passes if the interval lies above 1.

Run: ``python experiments/wom_frequency.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.run import run_market
from cxsim.stats import mean_ci

NAME = "wom_frequency"
FLAGSHIP = Path(__file__).resolve().parents[1] / "scenarios" / "manage_vs_fix.toml"
REPLICATIONS = 5
EAST_RATIO = 3.0  # about three positive mentions to one negative (East, Hammond & Wright 2007)


def one_run(replication: int) -> pd.DataFrame:
    loaded = scenario.load(FLAGSHIP)
    market = run_market(loaded.params, replication, base_dir=loaded.base_dir)
    totals = market.summary()[["positive_tellers", "negative_tellers"]].reset_index()
    totals.insert(0, "replication", replication)
    return totals


def main() -> None:
    with Timer() as timer:
        runs = pd.concat(parallel_map(one_run, range(REPLICATIONS)), ignore_index=True)
    folder = out_dir(NAME)
    runs.to_csv(folder / "runs.csv", index=False)
    both = runs.groupby("replication")[["positive_tellers", "negative_tellers"]].sum()
    ratio = both["positive_tellers"] / both["negative_tellers"]
    mean, low, high = mean_ci(ratio, lower=0.0)
    per_company = {
        company: float(
            (part["positive_tellers"].sum() / part["negative_tellers"].sum())
            if part["negative_tellers"].sum()
            else float("nan")
        )
        for company, part in runs.groupby("company")
    }
    holds = low > 1.0
    headline = (
        f"positive tellings per negative telling in the default market: {mean:.2f} [{low:.2f}, "
        f"{high:.2f}] ({'more' if holds else 'not more'} positive than negative; East, Hammond & "
        f"Wright 2007: positive more frequent, about {EAST_RATIO:.0f} to 1); per company "
        + ", ".join(f"{c} {r:.2f}" for c, r in per_company.items())
    )
    write_headline(
        NAME,
        "Word-of-mouth frequency (held out)",
        headline,
        {
            "ratio": mean,
            "ci95": [low, high],
            "per_company": per_company,
            "replications": REPLICATIONS,
            "seconds": timer.seconds,
        },
        kind="validation",
    )


if __name__ == "__main__":
    main()
