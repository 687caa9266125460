"""The HTML reports of runs and comparisons: units, panels, plotly.js, and the files they cite."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cxsim import cli, report, runner, scenario
from cxsim.shipped import shipped_scenarios

ROOT = Path(__file__).resolve().parents[1]
TINY = {"market.customers": 400, "market.days": 40}


@pytest.fixture(scope="module")
def result() -> runner.RunResult:
    loaded = scenario.load("manage_vs_fix", {"market.customers": 1500, "market.days": 200})
    return runner.run(loaded, 2)


@pytest.fixture(scope="module")
def page(result: runner.RunResult) -> str:
    return report.run_report(result, result.timeseries(), result.summary())


def without_scripts(page: str) -> str:
    return re.sub(r"<script[^>]*>.*?</script>", "", page, flags=re.DOTALL)


def table_row(page: str, label: str) -> list[str]:
    """The cells of the summary table's row ``label``, without their confidence intervals."""
    row = re.search(rf"<tr><td[^>]*>{re.escape(label)}</td>(.*?)</tr>", page)
    assert row is not None, label
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    return [re.sub(r"<span.*", "", c).strip() for c in cells]


def test_shares_are_percentages_in_the_table_as_on_the_charts(
    result: runner.RunResult, page: str
) -> None:
    retention = result.figure_values("managing", "retention").mean()
    share = result.figure_values("fixing", "market_share").mean()
    assert table_row(page, "retention (%)")[0] == f"{100 * retention:.3g}"
    assert table_row(page, "market share (%)")[1] == f"{100 * share:.3g}"
    fig = report.run_figure(result.timeseries(), result.companies)
    shares = [t for t in fig.data if t.name == "fixing" and t.yaxis == "y"]
    assert shares, "the market share panel draws the fixing company"
    assert 20 < np.nanmax(shares[0].y) <= 100  # percent, not a fraction
    layout = fig.layout.to_plotly_json()
    assert layout["yaxis"]["title"]["text"] == "% of served customers"
    assert layout["yaxis2"]["title"]["text"] == "% of day-0 customers"


def test_money_has_its_unit_said_once_and_on_every_money_row(page: str) -> None:
    assert without_scripts(page).count(report.MONEY_NOTE) == 1
    for label in ("profit ($)", "npv ($)", "customer lifetime value ($)"):
        assert table_row(page, label)
    assert "cumulative profit ($)" in page


def test_broken_promises_have_their_own_axes_apart_from_refunds(
    result: runner.RunResult,
) -> None:
    fig = report.run_figure(result.timeseries(), result.companies)
    refunds = report.CHARTS.index(report.CHARTS_BY_NAME["refunds"])
    broken = report.CHARTS.index(report.CHARTS_BY_NAME["broken_promises"])
    assert refunds != broken
    titles = [a.text for a in fig.layout.annotations]
    assert "Refunds" in titles
    assert any(t.startswith("Broken promises") for t in titles)
    axis = {i: "y" if i == 0 else f"y{i + 1}" for i in range(len(report.CHARTS))}
    on_refunds = {t.yaxis for t in fig.data if t.yaxis == axis[refunds]}
    on_broken = {t.yaxis for t in fig.data if t.yaxis == axis[broken]}
    assert on_refunds
    assert on_broken
    assert on_refunds.isdisjoint(on_broken)


def test_one_chart_of_the_report_can_be_drawn_alone(result: runner.RunResult) -> None:
    fig = report.chart_figure(result.timeseries(), result.companies, "broken_promises")
    assert fig.layout.title.text.startswith("Broken promises")
    # a mean line per company and, with two replications, the two edges of its band
    assert len(fig.data) == 3 * len(result.companies)


def test_comparison_shows_share_differences_in_percentage_points() -> None:
    a = scenario.load("manage_vs_fix", TINY)
    comparison = runner.compare(a, a, 2)
    fig = report.comparison_figure(comparison.table)
    titles = [x.text for x in fig.layout.annotations]
    assert "retention (percentage points)" in titles
    assert "profit ($)" in titles
    html = report.comparison_report(comparison)
    assert "retention (%)" in html


@pytest.mark.parametrize("option", [[], ["--plotly", "inline"]])
def test_report_embeds_plotly_by_default_and_works_offline(
    tmp_path: Path, option: list[str]
) -> None:
    out = tmp_path / "run"
    args = ["run", "manage_vs_fix", "--out", str(out), "-q", "--days", "20"]
    assert cli.main([*args, "--set", "market.customers=300", *option]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script src=" not in page
    assert 'src="https://cdn.plot.ly' not in page
    assert len(page) > 1_000_000


def test_plotly_cdn_writes_small_pages_that_load_plotly_from_the_cdn(tmp_path: Path) -> None:
    common = ["-q", "--days", "20", "--set", "market.customers=300", "--plotly", "cdn"]
    assert cli.main(["run", "manage_vs_fix", "--out", str(tmp_path / "r"), *common]) == 0
    compare = ["compare", "manage_vs_fix", "dealership", "-r", "2", "--out", str(tmp_path / "c")]
    assert cli.main([*compare, *common]) == 0
    for page in (tmp_path / "r" / "report.html", tmp_path / "c" / "comparison.html"):
        text = page.read_text(encoding="utf-8")
        assert re.search(r'<script[^>]*src="https://cdn\.plot\.ly/plotly-[\d.]+\.min\.js"', text)
        assert len(text) < 500_000, page


def test_a_bad_plotly_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "manage_vs_fix", "--plotly", "online"]) == 2
    assert "invalid choice: 'online'" in capsys.readouterr().err


#: A path a page may cite: folders of the repository, or a file name with an extension.
FILE_REFERENCE = re.compile(
    r"(?<![\w/.-])(?:(?:docs|experiments|scenarios|src|tests|benchmarks|notebooks|cxsim)/"
    r"[\w./-]*[\w/]|[\w-]+\.(?:md|toml|py|csv|json|parquet|ipynb))"
)


def cited_files(page: str) -> set[str]:
    return set(FILE_REFERENCE.findall(without_scripts(page)))


def test_the_reference_finder_finds_paths_and_file_names() -> None:
    text = "see docs/ODD.md, section 1.1, experiments/results/x/ and CHANGELOG.md; 37/46/70/95%"
    assert cited_files(text) == {"docs/ODD.md", "experiments/results/x/", "CHANGELOG.md"}


def exists_in_repository(reference: str) -> bool:
    if Path(reference).is_absolute():
        return Path(reference).exists()
    candidates = [ROOT / reference, ROOT / "src" / reference]
    if "/" not in reference:  # a file named alone: anywhere in the repository
        candidates += list(ROOT.glob(f"*/{reference}"))
    return any(c.exists() for c in candidates)


@pytest.mark.parametrize("name", [p.stem for p in shipped_scenarios()])
def test_every_file_a_run_report_cites_is_in_the_repository(name: str) -> None:
    loaded = scenario.load(name, TINY)
    result = runner.run(loaded, 1)
    page = report.run_report(result, result.timeseries(), result.summary())
    missing = sorted(r for r in cited_files(page) if not exists_in_repository(r))
    assert not missing, f"{name}'s report cites files not in the repository: {missing}"
