"""cxsim.plot draws the reports' figures from Python; runs show their figures in notebooks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import cxsim
from cxsim import plot, report, runner, scenario

SMALL = {"market.customers": 600, "market.days": 60}

TINY_SWEEP = {
    "name": "tiny",
    "base": {"market": {"customers": 300, "days": 20}, "network": {"mean_degree": 6}},
    "design": "full_factorial",
    "replications": 2,
    "seed": 3,
    "factors": {
        "companies.0.policy.callback_kept": [0.0, 1.0],
        "companies.0.policy.refund_rule": ["never", "no_questions"],
    },
    "metrics": {"summary": ["retention", "profit"], "daily": ["customers"]},
}


@pytest.fixture(scope="module")
def result() -> runner.RunResult:
    return runner.run(scenario.load("manage_vs_fix", SMALL), 2)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "tiny"
    with ThreadPoolExecutor(max_workers=1) as executor:
        cxsim.sweep(TINY_SWEEP, out, executor=executor, progress=False)
    return out


def test_plot_run_is_the_reports_figure(result: runner.RunResult) -> None:
    fig = plot.run(result)
    same = report.run_figure(result.timeseries(), result.companies)
    assert fig.to_plotly_json() == same.to_plotly_json()


def test_every_chart_of_the_report_can_be_drawn_alone(result: runner.RunResult) -> None:
    assert tuple(c.name for c in report.CHARTS) == plot.CHARTS
    for name in plot.CHARTS:
        fig = plot.chart(result, name)
        assert fig.layout.title.text == report.CHARTS_BY_NAME[name].title
        drawn = {t.name.split(" — ")[0] for t in fig.data if t.name}
        assert drawn == set(result.companies), name


def test_a_single_market_and_a_tidy_frame_plot_like_a_run() -> None:
    market = cxsim.run_market(cxsim.resolve(None, {**SMALL, "market.days": 30}))
    from_market = plot.chart(market, "market_share")
    from_frame = plot.chart(market.results_frame(), "market_share")
    assert from_market.to_plotly_json() == from_frame.to_plotly_json()
    assert [t.name for t in from_market.data] == ["managing", "fixing"]  # no bands: one run


def test_plot_refuses_what_it_cannot_draw(result: runner.RunResult) -> None:
    with pytest.raises(ValueError, match="no chart 'profits'; charts: market_share"):
        plot.chart(result, "profits")
    with pytest.raises(TypeError, match=r"expected a runner\.RunResult"):
        plot.run([1, 2, 3])


def test_plot_comparison_is_the_comparison_pages_figure() -> None:
    a = scenario.load("manage_vs_fix", SMALL)
    comparison = runner.compare(a, a, 2)
    assert plot.comparison(comparison).to_plotly_json() == (
        report.comparison_figure(comparison.table).to_plotly_json()
    )


def test_a_sweeps_figures_are_drawn_from_its_folder(sweep_dir: Path) -> None:
    effects = plot.main_effects(sweep_dir, "retention")
    assert len(effects.data) > 0
    assert plot.main_effects(
        cxsim.sweeps.load_results(sweep_dir), "retention"
    ).to_plotly_json() == (effects.to_plotly_json())
    assert len(plot.heatmap(sweep_dir, "profit").data) == 2  # one panel per company
    daily = plot.daily(sweep_dir, "customers")
    assert daily is not None
    with pytest.raises(ValueError, match="need a sobol design"):
        plot.sobol(sweep_dir, "retention")


# --------------------------------------------------------------------------- notebooks


def test_a_run_shows_its_figures_as_a_table_in_a_notebook(result: runner.RunResult) -> None:
    page = result._repr_html_()
    assert page.startswith("<p><b>manage_vs_fix</b>: 600 people, 60 days, 2 replications")
    assert report.summary_table(result.summary()) in page
    assert "retention (%)" in page
    assert "profit ($)" in page


def test_a_comparison_shows_its_differences_in_a_notebook() -> None:
    a = scenario.load("manage_vs_fix", SMALL)
    comparison = runner.compare(a, a, 2)
    page = comparison._repr_html_()
    assert "2 paired replications" in page
    assert report.comparison_table(comparison) in page


def test_a_market_shows_its_state_and_figures_in_a_notebook() -> None:
    market = cxsim.Market(**{**SMALL, "market.days": 20})
    assert "day 0 of 20" in market._repr_html_()
    assert "Not run yet" in market._repr_html_()
    market.run()
    page = market._repr_html_()
    assert "day 20 of 20" in page
    assert "retention (%)" in page
    retention = 100 * market.summary().loc["managing", "retention"]
    assert f"<td>{retention:.3g}</td>" in page
