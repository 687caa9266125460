"""Sweep analysis that uses the sweep's common random numbers, and intervals kept in range."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxsim.params import ModelParams
from cxsim.results import METRICS
from cxsim.stats import group_mean_ci, half_width
from cxsim.summary import figure_range, summarize
from cxsim.sweeps import sweep
from cxsim.sweeps.analyze import (
    SobolIndices,
    SweepResults,
    level_contrasts,
    load_results,
    main_effects,
    point_summary,
    sobol_precision,
    sobol_warning,
)
from cxsim.sweeps.cli import main

#: A market of 400 people for 60 days where the managing company's delivered quality moves its
#: retention by a few points, less than the spread between replications: the bands of the
#: main effect overlap, while each replication's paired difference has the same sign.
QUALITY_PLAN = """
name = "quality"
design = "full_factorial"
replications = 5
seed = 7
heatmap = ["companies.0.policy.refund_rule", "companies.0.delivered_quality"]

[[comparisons]]
name = "quality 0.92 vs 0.9"
a = { "companies.0.delivered_quality" = 0.9 }
b = { "companies.0.delivered_quality" = 0.92 }

[[comparisons]]
a = { "companies.0.delivered_quality" = 0.9, "companies.0.policy.refund_rule" = "never" }
b = { "companies.0.delivered_quality" = 0.92, "companies.0.policy.refund_rule" = "no_questions" }

[factors]
"companies.0.delivered_quality" = [0.9, 0.92]
"companies.0.policy.refund_rule" = ["never", "no_questions"]

[metrics]
summary = ["retention", "market_share", "complaints", "broken_promises", "profit"]

[base.market]
customers = 400
days = 60

[base.network]
mean_degree = 6

[base.behaviour.voice]
minor = 0.5
serious = 0.9

[[base.companies]]
name = "managing"
delivered_quality = 0.9

[base.companies.policy]
preset = "manage"
queue_capacity = 20.0

[[base.companies]]
name = "fixing"
delivered_quality = 0.9
policy = "fix"
"""
QUALITY = "companies.0.delivered_quality"
RULE = "companies.0.policy.refund_rule"


@pytest.fixture(scope="module")
def quality_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quality sweep, run and analysed once (20 runs in this process)."""
    folder = tmp_path_factory.mktemp("quality")
    plan = folder / "plan.toml"
    plan.write_text(QUALITY_PLAN, encoding="utf-8")
    out = folder / "out"
    with ThreadPoolExecutor(max_workers=1) as executor:
        assert sweep(plan, out, executor=executor, progress=False).complete
    assert main(["analyze", str(out), "-q"]) == 0
    return out


def test_paired_differences_are_clear_where_the_main_effect_bands_overlap(
    quality_sweep: Path,
) -> None:
    bands = main_effects(load_results(quality_sweep), "retention")
    bands = bands[(bands["factor"] == QUALITY) & (bands["company"] == "managing")]
    low_quality, high_quality = (bands[bands["level"] == v].iloc[0] for v in (0.9, 0.92))
    assert high_quality["mean"] > low_quality["mean"]
    assert high_quality["ci95_low"] < low_quality["ci95_high"]  # the bands overlap
    contrasts = pd.read_csv(quality_sweep / "contrasts.csv")
    paired = contrasts[
        (contrasts["factor"] == QUALITY)
        & (contrasts["company"] == "managing")
        & (contrasts["metric"] == "retention")
    ].iloc[0]
    assert paired["reference"] == "0.9"
    assert paired["replications"] == 5
    assert paired["difference"] == pytest.approx(high_quality["mean"] - low_quality["mean"])
    assert paired["ci95_low"] > 0  # yet the paired difference is clearly positive
    report = (quality_sweep / "sweep_report.html").read_text(encoding="utf-8")
    assert "Paired differences in retention from each factor&#x27;s first level" in report or (
        "Paired differences in retention from each factor's first level" in report
    )


def test_a_named_comparison_of_two_levels_equals_the_level_contrast(quality_sweep: Path) -> None:
    contrasts = pd.read_csv(quality_sweep / "contrasts.csv")
    comparisons = pd.read_csv(quality_sweep / "comparisons.csv")
    level = contrasts[contrasts["factor"] == QUALITY].set_index(["company", "metric"])
    named = comparisons[comparisons["comparison"] == "quality 0.92 vs 0.9"]
    named = named.set_index(["company", "metric"])
    columns = ["difference", "ci95_low", "ci95_high", "replications"]
    pd.testing.assert_frame_equal(level.loc[named.index, columns], named[columns])
    # The second comparison contrasts two points; its default name says which.
    points = comparisons[comparisons["comparison"] != "quality 0.92 vs 0.9"]
    assert set(points["comparison"]) == {
        "delivered_quality = 0.92, refund_rule = no_questions vs "
        "delivered_quality = 0.9, refund_rule = never"
    }
    assert "Named comparisons (B - A" in (quality_sweep / "sweep_report.html").read_text()


def test_the_plan_names_the_two_factors_of_the_heatmap(quality_sweep: Path) -> None:
    report = (quality_sweep / "sweep_report.html").read_text(encoding="utf-8")
    assert f"mean over {RULE} x {QUALITY}" in report
    assert f"mean over {QUALITY} x {RULE}" not in report


def synthetic_results(
    tmp_path: Path, complaints: list[float], retention: list[float]
) -> SweepResults:
    """A one-factor, one-point-per-level sweep whose values are given, for exact statements."""
    n = len(complaints)
    runs = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(2 * n)],
            "point": [0] * n + [1] * n,
            "replication": list(range(n)) * 2,
            "company": ["a"] * (2 * n),
            "status": ["ok"] * (2 * n),
            "x": [0.0] * n + [1.0] * n,
            "complaints": complaints + [c + 1 for c in complaints],
            "retention": retention * 2,
        }
    )
    pd.DataFrame({"point": [0, 1], "x": [0.0, 1.0]}).to_parquet(tmp_path / "points.parquet")
    record = {
        "factors": [{"key": "x", "levels": [0.0, 1.0], "value_type": "float"}],
        "summary_metrics": ["complaints", "retention"],
        "companies": ["a"],
        "design": "full_factorial",
        "points": 2,
        "replications": n,
    }
    return SweepResults(tmp_path, record, runs)


def test_intervals_of_counts_and_shares_stay_in_their_range(tmp_path: Path) -> None:
    complaints = [0.0, 0.0, 0.0, 6.0]  # mean 1.5, t interval reaches below 0
    retention = [0.97, 1.0, 1.0, 1.0]  # mean 0.9925, t interval reaches above 1
    results = synthetic_results(tmp_path, complaints, retention)
    raw_low = np.mean(complaints) - half_width(np.std(complaints, ddof=1), 4)
    raw_high = np.mean(retention) + half_width(np.std(retention, ddof=1), 4)
    assert raw_low < 0
    assert raw_high > 1
    summary = point_summary(results).set_index(["point", "metric"])
    assert summary.loc[(0, "complaints"), "ci95_low"] == 0.0
    assert summary.loc[(0, "retention"), "ci95_high"] == 1.0
    effects = main_effects(results, "complaints")
    assert effects.loc[effects["level"] == 0.0, "ci95_low"].iloc[0] == 0.0
    shares = main_effects(results, "retention")
    assert (shares["ci95_high"] == 1.0).all()
    grouped = pd.Series(complaints).groupby([0, 0, 0, 0])
    assert group_mean_ci(grouped, lower=0.0)["ci95_low"].iloc[0] == 0.0
    assert group_mean_ci(grouped)["ci95_low"].iloc[0] == pytest.approx(raw_low)
    # The paired difference of the level 1 runs (complaints + 1) is exactly +1.
    contrast = level_contrasts(results).set_index("metric")
    assert contrast.loc["complaints", "difference"] == 1.0
    assert contrast.loc["complaints", "ci95_low"] == contrast.loc["complaints", "ci95_high"] == 1.0


def test_every_figure_and_daily_metric_has_a_range() -> None:
    row = {"day": [0, 1], "company": ["a", "a"], **{m: [1.0, 1.0] for m in METRICS}}
    columns = summarize(pd.DataFrame(row), ModelParams(companies=[{"name": "a"}])).columns
    for name in [*columns, *METRICS]:
        low, high = figure_range(name)
        assert low is None or high is None or low < high
    assert figure_range("retention") == (0.0, 1.0)
    assert figure_range("complaints") == (0.0, None)
    assert figure_range("profit") == (None, None)
    with pytest.raises(KeyError):
        figure_range("no_such_figure")


def test_sobol_precision_asks_for_the_samples_that_narrow_the_intervals_enough() -> None:
    # The case: S1 = -0.5 with error bars from -1 to 2 (half-width 1.5) at 8 samples.
    first_total = pd.DataFrame(
        {
            "metric": ["retention", "retention", "profit", "profit"],
            "company": ["m"] * 4,
            "factor": ["x", "y", "x", "y"],
            "S1": [-0.5, 0.3, 0.9, 0.0],
            "S1_conf": [1.5, 0.4, 0.05, 0.01],
            "ST": [0.4, 0.6, 0.95, 0.02],
            "ST_conf": [0.8, 0.7, 0.06, 0.02],
        }
    )
    indices = SobolIndices(first_total, pd.DataFrame())
    precision = sobol_precision(indices, 8).set_index("metric")
    assert not precision.loc["retention", "readable"]
    assert precision.loc["profit", "readable"]
    # Widths fall as 1/sqrt(N): +-1.5 -> +-0.1 needs 8 x 15^2 = 1,800, rounded up to 2,048.
    assert precision.loc["retention", "samples_needed"] == 2048
    assert precision.loc["retention", "widest"] == "S1 of x"
    warning = sobol_warning(precision.reset_index(), 8)
    assert warning is not None
    assert "1 of 2 metric/company pairs" in warning
    assert "+-1.50" in warning
    assert "samples = 2,048" in warning
    assert sobol_warning(precision.reset_index().iloc[[1]], 8) is None
    assert math.log2(precision.loc["profit", "samples_needed"]) == 3  # already enough


def test_a_comparison_added_to_a_finished_sweep_runs_nothing_and_is_analysed(
    quality_sweep: Path,
) -> None:
    plan = quality_sweep.parent / "plan.toml"
    extra = (
        '\n[[comparisons]]\nname = "rules"\na = { "companies.0.policy.refund_rule" = "never" }\n'
        'b = { "companies.0.policy.refund_rule" = "no_questions" }\n'
    )
    text = QUALITY_PLAN.replace("\n[factors]", extra + "\n[factors]", 1)
    plan.write_text(text, encoding="utf-8")
    with ThreadPoolExecutor(max_workers=1) as executor:
        assert sweep(plan, quality_sweep, executor=executor, progress=False).ran == 0
    assert main(["analyze", str(quality_sweep), "-q", "--no-report"]) == 0
    names = set(pd.read_csv(quality_sweep / "comparisons.csv")["comparison"])
    assert "rules" in names
    assert len(names) == 3
