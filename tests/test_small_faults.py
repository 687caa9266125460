"""Small faults found by probing (issue 11, item 11): tiny markets, hidden fields, empty files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_cli import assert_bad_input, cxsim, nothing_written, write


@pytest.mark.filterwarnings("error")
def test_a_three_customer_market_runs_and_reports_without_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three people, fully mixed: a company with no day-0 customers has no retention on
    # any day, and with one replication its chart has nothing to average.
    path = write(
        tmp_path / "three.toml",
        '[market]\ncustomers = 3\ndays = 5\n[network]\nkind = "fully_mixed"\n',
    )
    code, _, err = cxsim(capsys, "run", path, "--out", tmp_path / "r", "-q")
    assert (code, err) == (0, "")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["customers"] == 3
    assert "Plotly.newPlot" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_chart_means_leave_a_gap_where_no_replication_has_a_value() -> None:
    import numpy as np

    from cxsim.report import band_over_replications, mean_over_replications

    values = np.array([[np.nan, 1.0, np.nan], [np.nan, 3.0, 4.0]])
    mean = mean_over_replications(values)
    assert np.isnan(mean[0])
    assert mean[1:].tolist() == [2.0, 4.0]
    low, high = band_over_replications(values)
    assert np.isnan(low[0])
    assert np.isnan(high[0])
    assert low[1] <= 2.0 <= high[1]


@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_invalid_field_is_refused_even_when_an_option_overrides_it(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "s.toml", '[market]\ncustomers = 200\ndays = "abc"\n')
    before = {p.name for p in tmp_path.iterdir()}
    if command == "run":
        args = ["run", path, "--days", "5", "--out", tmp_path / "r", "-q"]
    else:
        args = ["validate", path, "--set", "market.days=5"]
    code, out, err = cxsim(capsys, *args)
    assert_bad_input(code, err, str(path), "market.days", "abc")
    assert out == ""
    assert nothing_written(tmp_path, before)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_empty_scenario_file_is_refused_in_one_line(
    command: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "empty.toml", text)
    before = {p.name for p in tmp_path.iterdir()}
    args = ["run", path, "--out", tmp_path / "r", "-q"] if command == "run" else ["validate", path]
    code, out, err = cxsim(capsys, *args)
    assert_bad_input(code, err, str(path), "no settings")
    assert out == ""
    assert nothing_written(tmp_path, before)
