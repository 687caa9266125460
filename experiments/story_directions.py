"""The stories' directions: what each shipped story shows at its shipped size.

Every story compares two companies in one market (``scenarios/*.toml``, seven
stories from the seeds). This experiment runs each at its shipped size (20,000
people, three years) on replications 0-5 of its seed, both companies on the
same luck, and reports the paired difference first company minus second for
every whole-run figure, with a 95% t interval over replications (cut to the
range a difference of the figure can take). The scenario headers' "Expect"
paragraphs and ``tests/test_scenarios.py`` say what these runs show; a
direction whose interval covers 0 is reported as no measurable difference.

A result of the fitted world, not a calibration target: no parameter was
chosen by looking at it.

Run: ``python experiments/story_directions.py`` (writes experiments/results/story_directions/).
"""

from __future__ import annotations

import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import scenario
from cxsim.run import run_market
from cxsim.shipped import STORIES
from cxsim.stats import mean_ci
from cxsim.summary import FIGURES

NAME = "story_directions"
REPLICATIONS = 6
#: Shares: a difference of two lies in [-1, 1].
SHARES = ("retention", "market_share")


def story_run(job: tuple[str, int]) -> dict:
    """One replication of one story: each figure, first company minus second."""
    name, replication = job
    loaded = scenario.load(name)
    summary = run_market(loaded.params, replication, base_dir=loaded.base_dir).summary()
    first, second = summary.index[0], summary.index[1]
    row = {"story": name, "replication": replication, "a": first, "b": second}
    for figure in FIGURES:
        row[figure] = float(summary.loc[first, figure] - summary.loc[second, figure])
    return row


def directions(runs: pd.DataFrame) -> pd.DataFrame:
    """Per story and figure: mean paired difference, its 95% interval, and the direction shown."""
    rows = []
    for (story, a, b), part in runs.groupby(["story", "a", "b"], sort=False):
        for figure in FIGURES:
            bounds = {"lower": -1.0, "upper": 1.0} if figure in SHARES else {}
            mean, low, high = mean_ci(part[figure], **bounds)
            shown = "higher" if low > 0 else "lower" if high < 0 else "no measurable difference"
            rows.append(
                {
                    "story": story,
                    "a": a,
                    "b": b,
                    "figure": figure,
                    "a_minus_b": mean,
                    "ci95_low": low,
                    "ci95_high": high,
                    "a_is": shown,
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    out = out_dir(NAME)
    jobs = [(name, r) for name in STORIES for r in range(REPLICATIONS)]
    with Timer() as timer:
        runs = pd.DataFrame(parallel_map(story_run, jobs))
    table = directions(runs)
    runs.to_csv(out / "replications.csv", index=False)
    table.to_csv(out / "directions.csv", index=False)
    key = table[table.figure.isin(["retention", "market_share", "npv", "nps"])]
    clear = int((key.a_is != "no measurable difference").sum())
    write_headline(
        NAME,
        "What the stories show",
        f"{len(STORIES)} stories at their shipped size, {REPLICATIONS} paired replications: "
        f"{clear} of {len(key)} differences in retention, share, NPV and NPS are clear of 0 "
        "(directions.csv; each scenario's header says which)",
        {"seconds": round(timer.seconds, 1), "replications": REPLICATIONS},
        kind="result",
    )


if __name__ == "__main__":
    main()
