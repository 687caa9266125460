"""The cxsim command: runs, outputs, reproducibility, and errors for people."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cxsim import Market, cli, runner, scenario
from cxsim.files import OUTPUT_MARKER
from cxsim.params import resolve
from cxsim.results import METRICS
from cxsim.run import run_market
from cxsim.stats import mean_ci
from cxsim.stats import t_quantile_975 as stats_t_quantile_975

from .test_scenarios import SHIPPED

SMALL = ["--set", "market.customers=2000", "--days", "120"]
SMALL_OVERRIDES = {"market.customers": 2000, "market.days": 120}
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
FLAGSHIP = SCENARIO_DIR / "manage_vs_fix.toml"


def cxsim(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def assert_bad_input(code: int, err: str, *names: str) -> None:
    """Exit 2, one line on stderr naming each of ``names``, no traceback."""
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert name in lines[0], (name, lines[0])


def nothing_written(folder: Path, before: set[str]) -> bool:
    return {p.name for p in folder.iterdir()} == before


# --------------------------------------------------------------------------- run


@pytest.fixture(scope="module")
def flagship_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "flagship"
    code = cli.main(["run", str(FLAGSHIP), "--out", str(out), "-q", *SMALL])
    assert code == 0
    return out


def test_run_writes_timeseries_summary_and_report(flagship_run: Path) -> None:
    written = sorted([*runner.RUN_FILES, OUTPUT_MARKER])
    assert sorted(p.name for p in flagship_run.iterdir()) == written


def test_timeseries_is_tidy_day_company_replication_metrics(flagship_run: Path) -> None:
    frame = pd.read_parquet(flagship_run / "timeseries.parquet")
    assert list(frame.columns[:3]) == ["day", "company", "replication"]
    assert set(METRICS) <= set(frame.columns)
    assert "retained" in frame.columns
    assert len(frame) == 121 * 2  # days 0..120, two companies
    assert set(frame["company"]) == {"managing", "fixing"}
    csv = pd.read_csv(flagship_run / "timeseries.csv")
    assert list(csv.columns) == list(frame.columns)
    assert len(csv) == len(frame)


def test_summary_has_figures_per_company_and_provenance(flagship_run: Path) -> None:
    summary = json.loads((flagship_run / "summary.json").read_text(encoding="utf-8"))
    text = FLAGSHIP.read_text(encoding="utf-8")
    assert summary["scenario"]["text"] == text
    assert summary["scenario"]["sha256"] == scenario.from_text(text).sha256
    assert summary["scenario"]["overrides"] == {"market.customers": 2000, "market.days": 120}
    assert summary["run"]["seed"] == 1
    assert summary["run"]["replication_indices"] == [0]
    prov = summary["provenance"]
    for key in ("cxsim", "world", "python", "numpy", "mesa", "wall_seconds", "started"):
        assert prov[key] is not None, key
    names = [c["name"] for c in summary["companies"]]
    assert names == ["managing", "fixing"]
    for company in summary["companies"]:
        retention = company["figures"]["retention"]["mean"]
        assert 0.0 < retention <= 1.0
        assert "customers" in company["final"]
        assert "profit" in company["cumulative"]


def test_retention_counts_day0_customers_still_with_the_company(flagship_run: Path) -> None:
    frame = pd.read_parquet(flagship_run / "timeseries.parquet")
    summary = json.loads((flagship_run / "summary.json").read_text(encoding="utf-8"))
    for company in summary["companies"]:
        rows = frame[frame["company"] == company["name"]]
        retained = rows["retained"].to_numpy()
        assert retained[0] == rows["customers"].iloc[0]
        assert np.all(np.diff(retained) <= 0)  # nobody becomes a day-0 customer later
        assert np.all(retained <= rows["customers"].to_numpy())
        expected = retained[-1] / retained[0]
        assert company["figures"]["retention"]["mean"] == pytest.approx(expected)


def test_report_is_self_contained_html(flagship_run: Path) -> None:
    page = (flagship_run / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src=" not in page  # plotly.js is embedded, not fetched: works offline
    assert len(page) > 1_000_000
    assert "Plotly.newPlot" in page
    for title in (
        "Market share",
        "Customers retained",
        "iceberg",
        "Word of mouth",
        "broken promises",
        "Profit",
        "Net promoter score",
    ):
        assert title in page, title


def test_same_seed_gives_identical_timeseries_bit_for_bit(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            cli.main(
                ["run", "manage_vs_fix", "--out", str(tmp_path / name), "-q", "--seed", "7", *SMALL]
            )
            == 0
        )
    for file in ("timeseries.parquet", "timeseries.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_replication_r_is_run_seed_r_whoever_runs_it(tmp_path: Path) -> None:
    out = tmp_path / "reps"
    assert (
        cli.main(
            ["run", "manage_vs_fix", "--out", str(out), "-q", "-r", "3", "--seed", "5", *SMALL]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["run"]["seed"] == 5
    assert summary["run"]["replication_indices"] == [0, 1, 2]
    reps = pd.read_parquet(out / "timeseries.parquet")
    loaded = scenario.load("manage_vs_fix", {"market.seed": 5, **SMALL_OVERRIDES})
    direct = run_market(loaded.params, 2).results_frame()
    third = reps[reps["replication"] == 2].drop(columns="replication").reset_index(drop=True)
    pd.testing.assert_frame_equal(third, direct, check_categorical=False)
    first = reps[reps["replication"] == 0].drop(columns="replication").reset_index(drop=True)
    assert not first.equals(third)
    assert summary["companies"][0]["figures"]["retention"]["ci95"] is not None


def test_shipped_scenario_runs_by_bare_name_into_default_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = cxsim(capsys, "run", "dealership", *SMALL)
    assert code == 0
    assert (tmp_path / "runs" / "dealership" / "summary.json").is_file()
    assert "dealership" in out
    assert "retention" in out


def test_existing_out_dir_is_refused_with_or_without_force_unless_cxsim_wrote_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    for force in ([], ["--force"]):
        code, _, err = cxsim(capsys, "run", "manage_vs_fix", "--out", out, *force, *SMALL)
        assert_bad_input(code, err, str(out), "not written by cxsim")
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
        assert {p.name for p in tmp_path.iterdir()} == {"out"}

    mine = tmp_path / "mine"
    assert cxsim(capsys, "run", "manage_vs_fix", "--out", mine, "-q", *SMALL)[0] == 0
    code, _, _ = cxsim(capsys, "run", "manage_vs_fix", "--out", mine, "--force", "-q", *SMALL)
    assert code == 0
    assert sorted(p.name for p in mine.iterdir()) == sorted([*runner.RUN_FILES, OUTPUT_MARKER])
    assert {p.name for p in tmp_path.iterdir()} == {"out", "mine"}  # no temporary folders left


def test_set_overrides_parse_as_toml_values(tmp_path: Path) -> None:
    assert scenario.parse_value("false") is False
    assert scenario.parse_value("3") == 3
    assert scenario.parse_value("0.25") == 0.25
    assert scenario.parse_value("no_questions") == "no_questions"
    assert scenario.parse_value('"fix"') == "fix"
    loaded = scenario.load(
        "manage_vs_fix",
        dict(
            scenario.parse_assignment(a)
            for a in ("companies.1.policy.apology=false", "companies.0.policy.refund_rule=never")
        ),
    )
    assert loaded.params.companies[1].policy.apology is False
    # The rest of the fix preset stays.
    assert loaded.params.companies[1].policy.fix_probability == 0.9
    assert loaded.params.companies[0].policy.refund_rule == "never"


# --------------------------------------------------------------------------- bad input


BAD_SCENARIOS = {
    "typo_in_key": (
        "[market]\ncustmers = 2000\n",
        ["market.custmers", "did you mean customers"],
    ),
    "wrong_enum_value": (
        '[[companies]]\nname = "a"\n[[companies]]\nname = "b"\n[companies.policy]\nrefund_rule = "sometimes"\n',
        [
            "companies[1].policy.refund_rule: expected one of never, policy, no_questions, got 'sometimes'"
        ],
    ),
    "negative_probability": (
        "[behaviour.voice]\nminor = -0.1\n",
        ["behaviour.voice.minor", ">= 0", "-0.1"],
    ),
    "unknown_network_file": (
        '[network]\nkind = "file"\npath = "missing.edgelist"\n',
        ["network.path", "missing.edgelist"],
    ),
    "typo_in_policy_key": (
        '[[companies]]\nname = "a"\npolicy = { preset = "fix", refund_rul = "never" }\n',
        ["companies[0].policy.refund_rul", "did you mean refund_rule"],
    ),
    "not_toml": ("[market\ncustomers = 1\n", ["not valid TOML", "line 1"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario_gets_one_line_naming_file_and_field(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BAD_SCENARIOS[case]
    path = write(tmp_path / "x.toml", text)
    before = {p.name for p in tmp_path.iterdir()}
    args = ["run", path, "--out", tmp_path / "out"] if command == "run" else ["validate", path]
    code, out, err = cxsim(capsys, *args)
    assert_bad_input(code, err, str(path), *expected)
    assert out == ""
    assert nothing_written(tmp_path, before)


BAD_SETS = {
    "unknown_key": (
        ["--set", "market.custmers=5"],
        ["--set market.custmers", "did you mean customers"],
    ),
    "company_index_out_of_range": (
        ["--set", "companies.5.policy.apology=false"],
        ["--set companies.5.policy.apology", "out of range"],
    ),
    "no_equals_sign": (["--set", "market.customers"], ["--set market.customers", "key=value"]),
    "value_out_of_range": (
        ["--set", "companies.0.policy.callback_kept=1.5"],
        ["--set companies.0.policy.callback_kept", "<= 1", "1.5"],
    ),
    "wrong_type": (
        ["--set", "market.customers=many"],
        ["--set market.customers", "whole number", "many"],
    ),
    "negative_days": (["--days", "0"], ["--days", ">= 1"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SETS))
def test_bad_set_gets_one_line_naming_file_and_key(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args, expected = BAD_SETS[case]
    code, _, err = cxsim(capsys, "run", "manage_vs_fix", *args)
    assert_bad_input(code, err, "manage_vs_fix", *expected)
    assert list(tmp_path.iterdir()) == []


def test_network_file_with_ids_beyond_the_market_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nx.write_edgelist(nx.cycle_graph(30), tmp_path / "ring.edgelist", data=False)
    path = write(
        tmp_path / "x.toml",
        '[market]\ncustomers = 20\n[network]\nkind = "file"\npath = "ring.edgelist"\n',
    )
    before = {p.name for p in tmp_path.iterdir()}
    for args in (["validate", path], ["run", path, "--out", tmp_path / "out", "--days", "5"]):
        code, _, err = cxsim(capsys, *args)
        assert_bad_input(code, err, str(path), "network.path", "ring.edgelist: line", "0..19")
        assert nothing_written(tmp_path, before)


def test_network_file_is_found_next_to_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nx.write_edgelist(
        nx.watts_strogatz_graph(300, 6, 0.1, seed=1), tmp_path / "contacts.edgelist", data=False
    )
    path = write(
        tmp_path / "x.toml",
        '[market]\ncustomers = 300\n[network]\nkind = "file"\npath = "contacts.edgelist"\n',
    )
    code, out, _ = cxsim(capsys, "validate", path)
    assert (code, out.strip()) == (0, f"ok: {path}")
    code, _, _ = cxsim(capsys, "run", path, "--out", tmp_path / "out", "--days", "10", "-q")
    assert code == 0


def test_market_larger_than_memory_is_refused_before_allocating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # 50 million people with 1,000 contacts each need hundreds of GiB: more than any test machine.
    huge = ["--set", "market.customers=50000000", "--set", "network.mean_degree=1000"]
    code, _, err = cxsim(capsys, "run", "manage_vs_fix", *huge)
    assert_bad_input(code, err, "manage_vs_fix", "market.customers", "GiB")
    assert list(tmp_path.iterdir()) == []


def test_memory_refusal_compares_with_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = scenario.load("manage_vs_fix", {"market.customers": 10_000_000})
    scenario.check_memory(loaded, available=64 * 1024**3)
    with pytest.raises(scenario.ScenarioError, match=r"market\.customers: 10,000,000 people"):
        scenario.check_memory(loaded, available=1024**3)
    monkeypatch.setattr(scenario, "available_memory", lambda: 1024**3)
    with pytest.raises(scenario.ScenarioError):
        scenario.check_memory(loaded)


def test_memory_refusal_names_days_times_replications_when_the_result_tables_dominate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A century a run, 100,000 replications: the result tables need terabytes, the people 2 MB.
    loaded = scenario.load("manage_vs_fix", {"market.days": 36_500})
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.check_memory(loaded, 100_000, available=8 * 1024**3)
    message = str(caught.value)
    assert "market.days: the result tables of 100,000 replications x 36,500 days" in message
    assert message.endswith("lower the replications (-r) or market.days")
    assert "market.customers" not in message
    monkeypatch.chdir(tmp_path)
    code, _, err = cxsim(capsys, "run", "manage_vs_fix", "-r", "100000", "--days", "36500")
    assert_bad_input(code, err, "manage_vs_fix", "market.days", "replications", "GiB")
    assert list(tmp_path.iterdir()) == []


def test_memory_refusal_names_a_second_cause_that_takes_a_quarter_or_more() -> None:
    loaded = scenario.load("manage_vs_fix", {"market.customers": 20_000_000, "market.days": 36_500})
    terms = scenario.memory_terms(loaded.params, 100)
    assert sum(terms.values()) == scenario.peak_bytes(loaded.params, 100)
    assert terms["result tables"] > sum(terms.values()) / 4
    with pytest.raises(scenario.ScenarioError) as caught:
        scenario.check_memory(loaded, 100, available=2 * 1024**3)
    message = str(caught.value)
    assert "market.customers: 20,000,000 people with mean degree 10" in message
    assert (
        "the result tables of 100 replications x 36,500 days x 2 companies need another" in message
    )


def test_available_memory_is_read_from_the_machine() -> None:
    assert scenario.available_memory() > 0


@pytest.mark.parametrize(
    "settings",
    [
        {"market.customers": 20_000},
        {"market.customers": 20_000, "network.mean_degree": 40},
        {"market.customers": 20_000, "network.kind": "scale_free"},
        {"market.customers": 20_000, "network.kind": "fully_mixed"},
        {"market.customers": 3_000, "companies": [{"name": f"c{i}"} for i in range(6)]},
    ],
)
def test_memory_estimate_is_within_a_factor_2_of_a_real_market(settings: dict) -> None:
    params = resolve(None, {"market.days": 1, **settings})
    market = Market(params)
    real = market.customers.nbytes() + market.network.nbytes()
    estimate = scenario.estimate_bytes(params)
    assert real / 2 <= estimate <= 2 * real


# --------------------------------------------------------------------------- other commands


def test_validate_says_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cxsim(capsys, "validate", FLAGSHIP, "dealership")
    assert code == 0, err
    assert out.splitlines() == [f"ok: {FLAGSHIP}", f"ok: {SCENARIO_DIR / 'dealership.toml'}"]


def test_unknown_scenario_name_suggests_the_nearest(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cxsim(capsys, "validate", "manage_vs_fx")
    assert_bad_input(code, err, "manage_vs_fx", "did you mean manage_vs_fix")


def test_schema_prints_valid_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cxsim(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert {"market", "network", "behaviour", "companies", "journey"} <= set(schema["properties"])
    policy = schema["$defs"]["CompanyParams"]["properties"]["policy"]
    assert {"type": "string", "enum": ["manage", "fix"]} in policy["anyOf"]
    assert schema["$defs"]["RefundRule"]["enum"] == ["never", "policy", "no_questions"]


def test_schema_accepts_every_shipped_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    _, out, _ = cxsim(capsys, "schema")
    schema = json.loads(out)

    for path in SCENARIO_DIR.glob("*.toml"):
        jsonschema.validate(tomllib.loads(path.read_text(encoding="utf-8")), schema)


def test_scenarios_lists_all_shipped_with_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cxsim(capsys, "scenarios")
    assert code == 0
    lines = out.splitlines()
    names = [line.split()[0] for line in lines]
    assert names == sorted(SHIPPED)
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)


def test_compare_prints_paired_differences_and_writes_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "cmp"
    code, out, err = cxsim(
        capsys, "compare", "manage_vs_fix", "account_manager", "-r", "3", "--out", out_dir, *SMALL
    )
    assert code == 0, err
    for figure in runner.COMPARE_FIGURES:
        assert figure in out
    assert "95% CI" in out
    assert "B - A" in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        OUTPUT_MARKER,
        "comparison.csv",
        "comparison.html",
        "pairs.csv",
    ]
    table = pd.read_csv(out_dir / "comparison.csv")
    assert len(table) == 2 * len(runner.COMPARE_FIGURES)
    row = table[(table.position == 0) & (table.figure == "retention")].iloc[0]
    assert row.difference == pytest.approx(row.mean_b - row.mean_a)
    assert row.ci95_low <= row.difference <= row.ci95_high
    pairs = pd.read_csv(out_dir / "pairs.csv")
    assert set(pairs.seed) == {1}
    assert sorted(set(pairs.replication)) == [0, 1, 2]


def test_compare_of_a_scenario_with_itself_has_zero_differences(
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = scenario.load("manage_vs_fix", {"market.customers": 1000, "market.days": 30})
    comparison = runner.compare(a, a, replications=2)
    assert np.all(comparison.table["difference"] == 0.0)


def test_t_quantiles_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 4, 9, 29, 30, 31, 45, 100, 1000):
        assert stats_t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-6), df


def test_mean_ci_is_paired_t_interval() -> None:
    mean, low, high = mean_ci([1.0, 2.0, 3.0, 4.0])
    half = 3.182446 * np.std([1, 2, 3, 4], ddof=1) / 2
    assert (mean, low, high) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    assert np.isnan(mean_ci([1.0])[1])


@pytest.mark.parametrize(
    "command", [[], ["run"], ["compare"], ["validate"], ["scenarios"], ["schema"]]
)
def test_help_everywhere(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cxsim(capsys, *command, "--help")
    assert code == 0
    assert "usage: cxsim" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cxsim(capsys, "run")
    assert code == 2
    assert "Traceback" not in err
    code, _, _ = cxsim(capsys)
    assert code == 2


def test_installed_cxsim_script(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("cxsim")
    if not script.exists():
        pytest.skip("the cxsim console script is not installed in this environment")
    ok = subprocess.run(
        [script, "validate", "manage_vs_fix"], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: ")
    bad = write(tmp_path / "x.toml", "[market]\ncustmers = 3\n")
    res = subprocess.run(
        [script, "run", bad, "--out", tmp_path / "out"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 2
    assert (
        res.stderr.strip()
        == f"{bad}: market.custmers: unknown key 'custmers'; did you mean customers?"
    )
    assert not (tmp_path / "out").exists()
