"""cxsim calibrate: the file's checks, the likelihoods, a study end to end, resume, the outputs."""

from __future__ import annotations

import json
import math
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxsim
from cxsim.calibrate import CalibrationError, calibration_from_text, load_calibration
from cxsim.calibrate.evaluation import evaluate
from cxsim.calibrate.likelihood import (
    Likelihood,
    beta_binomial_deviance,
    binomial_deviance,
    margin,
)
from cxsim.calibrate.measures import MEASUREMENTS
from cxsim.calibrate.study import CalibrationStore
from cxsim.cli import main
from cxsim.params import resolve
from cxsim.run import run_market

PYTHON = sys.executable

#: A small shop where complaints are common, so that every TARP class has cases in 90 days.
TINY = """
name = "tiny"
base = "tarp_repurchase"
replications = 2
trials = 8
refine_trials = 8
spread_trials = 4
batch_size = 4
seed = 11

[fixed]
"market.customers" = 500
"market.days" = 90

[parameters]
"behaviour.voice.minor" = { low = 0.05, high = 0.9 }
"behaviour.retention.churn_midpoint" = { low = -2.0, high = 0.0, start = -1.0 }

[[targets]]
name = "iceberg"
measure = "complaint_share"
likelihood = "binomial"
observed = 0.3
n = 400

[[targets]]
name = "TARP small"
measure = "tarp_repurchase"
args = { loss = "minor", from_day = 1, to_day = 70 }
likelihood = "binomial"
observed = [0.37, 0.46, 0.70, 0.95]
n = 50

[[targets]]
name = "churn"
measure = "market_churn"
likelihood = "band"
low = 0.5
high = 3.0
sd = 0.2
variant = { "market.advertising_rate" = 5.0 }
"""


def write(folder: Path, text: str = TINY, name: str = "fit.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def calibrate_command(path: Path, out: Path, *options: str) -> list[str]:
    return [PYTHON, "-m", "cxsim", "calibrate", str(path), "--out", str(out), *options]


# --------------------------------------------------------------------------- likelihoods


def test_binomial_deviance_is_zero_at_the_observed_share_and_grows_with_n() -> None:
    y = np.array([0.3, 0.0, 1.0])
    assert binomial_deviance(y, y, np.array([100.0] * 3)).tolist() == [0.0, 0.0, 0.0]
    away = binomial_deviance(np.array([0.3]), np.array([0.35]), np.array([100.0]))[0]
    assert away == pytest.approx(
        2 * 100 * (0.3 * math.log(0.3 / 0.35) + 0.7 * math.log(0.7 / 0.65))
    )
    # Near the observed share the deviance is the squared z-score of the difference.
    near = binomial_deviance(np.array([0.3]), np.array([0.301]), np.array([1000.0]))[0]
    assert near == pytest.approx(0.001**2 / (0.3 * 0.7 / 1000), rel=0.01)
    assert math.isfinite(binomial_deviance(np.array([0.4]), np.array([0.0]), np.array([10.0]))[0])


def test_beta_binomial_deviance_is_binomial_at_no_overdispersion_and_its_effective_n_smaller() -> (
    None
):
    y, m, n = np.array([0.3]), np.array([0.36]), np.array([200.0])
    binomial = binomial_deviance(y, m, n)[0]
    assert beta_binomial_deviance(y, m, n, 1e-6)[0] == pytest.approx(binomial, rel=1e-3)
    rho = 0.02
    over = beta_binomial_deviance(y, m, n, rho)[0]
    # Overdispersion shrinks the deviance about as an effective sample size n / (1 + (n - 1) rho).
    assert over == pytest.approx(binomial / (1 + (200 - 1) * rho), rel=0.15)
    assert beta_binomial_deviance(y, y, n, rho)[0] == pytest.approx(0.0, abs=1e-6)
    lik = Likelihood("beta_binomial", y, n=n, overdispersion=rho)
    assert lik.effective_n is not None
    assert lik.effective_n[0] == pytest.approx(200 / (1 + 199 * rho))


def test_band_costs_nothing_inside_and_the_stated_steepness_outside() -> None:
    band = Likelihood(
        "band", np.full(3, np.nan), sd=np.full(3, 0.01), low=np.full(3, 0.03), high=np.full(3, 0.08)
    )
    assert band.deviance(np.array([0.03, 0.05, 0.08])).tolist() == [0.0, 0.0, 0.0]
    assert band.deviance(np.array([0.01, 0.10, np.nan]))[:2] == pytest.approx([4.0, 4.0])
    normal = Likelihood("normal", np.array([2.0]), sd=np.array([0.5]))
    assert normal.deviance(np.array([3.0]))[0] == pytest.approx(4.0)


def test_margin_is_the_chi_square_quantile_widened_by_the_simulation_noise() -> None:
    assert margin(3, 0.0) == pytest.approx(stats.chi2.ppf(0.95, 3))
    assert margin(3, 0.5) == pytest.approx(1.5 * stats.chi2.ppf(0.95, 3))
    assert margin(2, float("nan")) == pytest.approx(stats.chi2.ppf(0.95, 2))


# --------------------------------------------------------------------------- the file


def test_a_good_file_loads_with_its_variants_cells_and_start(tmp_path: Path) -> None:
    calibration = load_calibration(write(tmp_path))
    assert calibration.name == "tiny"
    assert [t.cells for t in calibration.targets][1] == tuple(
        MEASUREMENTS["tarp_repurchase"].cells()
    )
    assert calibration.variants == [{}, {"market.advertising_rate": 5.0}]
    assert [t.variant for t in calibration.targets] == [0, 0, 1]
    # No start given: the base scenario's value if inside the bounds, else their middle.
    base_voice = calibration.base.behaviour.voice.minor
    expected = base_voice if 0.05 <= base_voice <= 0.9 else (0.05 + 0.9) / 2
    assert calibration.start == {
        "behaviour.voice.minor": expected,
        "behaviour.retention.churn_midpoint": -1.0,
    }
    params = calibration.params_for(calibration.start, 1)
    assert params.market.advertising_rate == 5.0
    assert params.market.seed == 11
    assert params.journey.sample_size == 0  # measurements count online


def test_nested_tables_name_the_same_parameters_as_dotted_keys(tmp_path: Path) -> None:
    nested = (
        TINY.replace('"behaviour.voice.minor" = { low = 0.05, high = 0.9 }\n', "")
        + "\n[parameters.behaviour.voice.minor]\nlow = 0.05\nhigh = 0.9\n"
    )
    flat = load_calibration(write(tmp_path))
    other = load_calibration(write(tmp_path, nested, "nested.toml"))
    assert {p.key for p in other.parameters} == {p.key for p in flat.parameters}


BAD_FILES = [
    ('name = "tiny"', 'name = "tiny"\nsampler = "grid"', "sampler: expected one of tpe, cmaes"),
    ('name = "tiny"', 'name = "tiny"\nreplicates = 3', "replicates: unknown key"),
    ('name = "tiny"', 'name = "tiny"\ncmaes_step = 0.1', 'cmaes_step is for sampler = "cmaes"'),
    ('name = "tiny"', 'name = "tiny"\nsampler = "cmaes"\ncmaes_step = 0', "cmaes_step"),
    ('base = "tarp_repurchase"', 'base = "no_such_story"', "base: no_such_story: no such scenario"),
    ('"market.days" = 90', '"market.dayz" = 90', "fixed.market.dayz: not a parameter"),
    ('"market.days" = 90', '"market.seed" = 3', "fixed.market.seed: market.seed is the calibr"),
    (
        '"behaviour.voice.minor" = { low = 0.05,',
        '"behaviour.voice.minr" = { low = 0.05,',
        "parameters.behaviour.voice.minr: not a parameter",
    ),
    (
        "low = -2.0, high = 0.0, start",
        "low = -30.0, high = 0.0, start",
        "churn_midpoint.low: the schema allows behaviour.retention.churn_midpoint >= -10, got -30",
    ),
    (
        "{ low = 0.05, high = 0.9 }",
        "{ low = 0.05, high = 1.5 }",
        "voice.minor.high: the schema allows",
    ),
    ("{ low = 0.05, high = 0.9 }", "{ low = 0.5, high = 0.1 }", "voice.minor: expected low < high"),
    (
        "{ low = 0.05, high = 0.9 }",
        "{ low = 0.05, high = 0.9, log = true, start = 0.95 }",
        "voice.minor.start: expected a value from 0.05 to 0.9",
    ),
    ("{ low = 0.05, high = 0.9 }", "{ low = 0.05, high = 0.9, step = 0.1 }", "unknown key 'step'"),
    (
        "low = -2.0, high = 0.0, start = -1.0",
        "low = -2.0, high = 0.0, start = -1.0, log = true",
        "churn_midpoint.low: a log scale needs low > 0",
    ),
    (
        'measure = "complaint_share"',
        'measure = "complaint_shares"',
        "targets[0].measure: unknown measurement 'complaint_shares'; did you mean complaint_share?",
    ),
    (
        'args = { loss = "minor"',
        'args = { loss = "small"',
        "targets[1].args.loss: expected one of minor, serious",
    ),
    (
        'args = { loss = "minor", from_day = 1, to_day = 70 }',
        "args = { to_day = 700 }",
        "targets[1].args.to_day: expected a day from 1 to 90",
    ),
    ('args = { loss = "minor"', 'args = { los = "minor"', "targets[1].args.los: unknown key"),
    (
        "observed = 0.3",
        "observed = 1.3",
        "targets[0].observed: expected a share from 0 to 1, got 1.3",
    ),
    (
        "observed = [0.37, 0.46, 0.70, 0.95]",
        "observed = [0.37, 0.46, 0.70]",
        "targets[1].observed: expected one value or 4",
    ),
    ("n = 50", "n = -5", "targets[1].n: expected a sample size > 0"),
    ("n = 400", "n = 400\nsd = 0.1", "targets[0].sd: not used by a binomial likelihood"),
    (
        "observed = 0.3\nn = 400",
        "observed = 0.3",
        "targets[0].n: required for a binomial likelihood",
    ),
    (
        'measure = "market_churn"\nlikelihood = "band"',
        'measure = "market_churn"\nlikelihood = "binomial"\nobserved = 0.1\nn = 5',
        "a binomial likelihood needs a share",
    ),
    ("low = 0.5\nhigh = 3.0", "low = 3.5\nhigh = 3.0", "targets[2].high: expected high >= low"),
    (
        'variant = { "market.advertising_rate" = 5.0 }',
        'variant = { "behaviour.voice.minor" = 0.5 }',
        "targets[2].variant.behaviour.voice.minor: is a fitted parameter",
    ),
    (
        'variant = { "market.advertising_rate" = 5.0 }',
        'variant = { "market.advertising_rate" = -5.0 }',
        "targets[2].variant.market.advertising_rate: expected a number >= 0",
    ),
    ('name = "churn"', 'name = "iceberg"', "targets[2].name: 'iceberg' names two targets"),
    ("sd = 0.2", "sd = 0.2\nweight = -1", "targets[2].weight: expected a number >= 0"),
    ("replications = 2", "replications = 0", "replications: expected a number >= 1"),
    ("replications = 2", "replications = true", "replications: expected a whole number"),
    ("batch_size = 4", "batch_size = 4.5", "batch_size: expected a whole number"),
    ("observed = 0.3", "observed = nan", "targets[0].observed: "),
    ('base = "tarp_repurchase"', "base = 3", "base: expected a string"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_FILES)
def test_calibration_file_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in TINY
    path = write(tmp_path, TINY.replace(old, new, 1))
    with pytest.raises(CalibrationError) as caught:
        load_calibration(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert message in text, text


def test_every_weight_zero_and_no_targets_are_refused() -> None:
    zero = TINY.replace("n = 400", "n = 400\nweight = 0").replace("n = 50", "n = 50\nweight = 0")
    zero = zero.replace("sd = 0.2", "sd = 0.2\nweight = 0")
    with pytest.raises(CalibrationError, match="every weight is 0"):
        calibration_from_text(zero)
    with pytest.raises(CalibrationError, match="targets: expected at least one"):
        calibration_from_text("targets = []\n" + TINY.split("[[targets]]")[0])


def test_cli_bad_calibration_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, TINY.replace("observed = 0.3", "observed = 1.3"))
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"{path}: targets[0].observed: expected a share from 0 to 1, got 1.3"
    assert not out.exists()
    assert main(["calibrate", str(write(tmp_path)), "--out", str(out), "--trials", "0"]) == 2
    assert "--trials: expected a number >= 1, got 0" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_that_is_not_this_calibrations_is_refused_before_writing(tmp_path: Path) -> None:
    calibration = load_calibration(write(tmp_path))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    with pytest.raises(CalibrationError, match="is not a calibration folder"):
        CalibrationStore(foreign).check(calibration)
    other = tmp_path / "other"
    CalibrationStore(other).initialise(calibration)
    changed = load_calibration(write(tmp_path, TINY.replace("n = 400", "n = 300"), "b.toml"))
    with pytest.raises(CalibrationError, match="holds another calibration"):
        CalibrationStore(other).check(changed)
    more_trials = load_calibration(
        write(tmp_path, TINY.replace("\ntrials = 8", "\ntrials = 40"), "c.toml")
    )
    assert CalibrationStore(other).check(more_trials)  # only the number of trials may change
    record_path = other / "calibration.json"
    record = json.loads(record_path.read_text())
    record["engine"]["engine_code"] = "0" * 16  # as if the rules had changed since
    record_path.write_text(json.dumps(record))
    with pytest.raises(CalibrationError, match=r"was started by another engine .*engine_code"):
        CalibrationStore(other).check(calibration)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.txt"]


def test_a_folder_in_use_or_not_writable_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    busy = tmp_path / "busy"
    with CalibrationStore(busy).lock():
        assert main(["calibrate", str(path), "--out", str(busy), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"{busy}: another calibration (pid {os.getpid()}) is running in this folder; "
        "wait for it to finish, or use another --out folder"
    )
    # A folder this user may not write (as root every folder is writable: say so to the check).
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out"), "-q"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{tmp_path / 'out'}: cannot write there ({tmp_path} is not writable)"
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- a study


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The tiny calibration, run once on two local workers, confirmed on two fresh replications."""
    folder = tmp_path_factory.mktemp("study")
    path = write(folder)
    result = cxsim.calibrate(path, folder / "out", workers=2, confirm=2, progress=False)
    return path, result


def test_a_study_writes_every_output(finished: tuple[Path, Any]) -> None:
    _, result = finished
    out = result.out_dir
    names = {
        "best.toml",
        "fit.csv",
        "confirm.csv",
        "trials.parquet",
        "spread.csv",
        "calibration_report.html",
        "calibration.json",
        "calibration.toml",
        "study.db",
    }
    assert names <= {p.name for p in out.iterdir()}
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    trials = pd.read_parquet(out / "trials.parquet")
    assert trials["trial"].tolist() == list(range(20))
    assert trials["phase"].tolist() == ["search"] * 8 + ["refine"] * 8 + ["spread"] * 4
    assert set(trials["state"]) <= {"COMPLETE", "FAIL"}
    assert trials.loc[0, "start"]  # the starting values are the first trial
    assert trials.loc[0, "behaviour.retention.churn_midpoint"] == -1.0
    best = trials.loc[trials["objective"].idxmin()]
    assert best["good"]
    assert result.best_value == best["objective"]
    fit = pd.read_csv(out / "fit.csv")
    assert len(fit) == 1 + 4 + 1
    assert {
        "observed",
        "simulated",
        "ci95_low",
        "ci95_high",
        "contribution",
        "start_simulated",
    } <= set(fit)
    shares = fit[fit["target"] != "churn"]
    assert ((shares["ci95_low"] >= 0) & (shares["ci95_high"] <= 1)).all()
    assert fit["contribution"].sum() == pytest.approx(result.best_value)
    report = (out / "calibration_report.html").read_text()
    for section in ("Optimisation history", "fANOVA", "spread of good fits", "fresh replications"):
        assert section in report
    assert "plotly" in report


def test_best_toml_is_a_scenario_that_repeats_the_best_trials_runs(
    finished: tuple[Path, Any],
) -> None:
    path, result = finished
    out = result.out_dir
    assert main(["validate", str(out / "best.toml")]) == 0
    tables = tomllib.loads((out / "best.toml").read_text())
    params = resolve(tables)
    assert params == result.params
    for key, value in result.best_values.items():
        section, group, name = key.split(".")
        assert tables[section][group][name] == value
    # Replication 0 of best.toml is the best trial's replication 0 of the base variant.
    calibration = load_calibration(path)
    measurement = MEASUREMENTS["tarp_repurchase"]
    args = calibration.targets[1].args
    counter = measurement.make_observer(args)
    market = run_market(resolve(params, {"journey.sample_size": 0}), 0, observers=[counter])
    again = measurement.measure(market, counter, args).values
    with cxsim.calibrate.study.quiet_optuna():
        study = CalibrationStore(out).open_study(create=False)
    stored = study.trials[result.best_trial].user_attrs["evaluation"]["values"]["1"][0]
    np.testing.assert_array_equal(np.asarray(stored, dtype=float), again)


def test_good_fits_are_the_trials_within_the_stated_margin(finished: tuple[Path, Any]) -> None:
    _, result = finished
    trials = result.trials
    done = trials[trials["state"] == "COMPLETE"]
    # 12 trials: too few near the best for a surface (twice its 6 terms within NEAR margins),
    # so the margin is measured from the best objective itself.
    assert result.margin.near == 0
    assert result.margin.reference == result.best_value
    within = done["objective"] <= result.best_value + result.margin.value
    assert done["good"].tolist() == within.tolist()
    assert result.margin.value == pytest.approx(
        stats.chi2.ppf(0.95, 2) * (1 + result.margin.noise_ratio)
    )
    spread = result.spread.set_index("parameter")
    for key, value in result.best_values.items():
        assert spread.loc[key, "good_low"] <= value <= spread.loc[key, "good_high"]


def test_confirmation_runs_fresh_replications(finished: tuple[Path, Any]) -> None:
    path, result = finished
    assert result.confirm is not None
    calibration = load_calibration(path)
    fresh = evaluate(calibration, result.best_values, [2, 3], workers=1)
    table = pd.read_csv(result.out_dir / "confirm.csv")
    means = np.concatenate([fresh.means()[t.index] for t in calibration.targets])
    np.testing.assert_allclose(table["simulated"].to_numpy(), means)
    assert not np.allclose(table["simulated"], result.fit["simulated"])  # other luck


def test_rerunning_a_finished_study_runs_nothing_and_more_trials_extend_it(
    finished: tuple[Path, Any],
) -> None:
    path, result = finished
    before = pd.read_parquet(result.out_dir / "trials.parquet")
    again = cxsim.calibrate(path, result.out_dir, workers=1, progress=False, report=False)
    same = pd.read_parquet(result.out_dir / "trials.parquet")
    pd.testing.assert_frame_equal(before, same)
    assert again.best_values == result.best_values
    cxsim.calibrate(path, result.out_dir, workers=2, trials=10, progress=False, report=False)
    extended = pd.read_parquet(result.out_dir / "trials.parquet")
    # 10 search trials, rounded up to whole batches of 4, the 8 refine and the 4 spread
    # trials: 4 more, asked as search trials after the others.
    assert extended["trial"].tolist() == list(range(24))
    assert extended["phase"].tolist()[20:] == ["search"] * 4
    columns = ["trial", "state", "objective", "behaviour.voice.minor"]
    pd.testing.assert_frame_equal(extended[columns].head(20), before[columns])


def test_cxsim_calibrate_is_the_package_and_the_function() -> None:
    import cxsim.calibrate as package

    assert cxsim.calibrate is package
    assert callable(cxsim.calibrate)
    assert cxsim.calibrate.CalibrationError is CalibrationError


def test_best_toml_applies_a_fixed_preset_before_the_fields_beside_it(tmp_path: Path) -> None:
    from cxsim.calibrate.outputs import best_toml

    text = TINY.replace(
        '"market.days" = 90',
        '"market.days" = 90\n"companies.0.policy.callback_kept" = 0.2\n'
        '"companies.0.policy.preset" = "manage"',
    )
    calibration = load_calibration(write(tmp_path, text))
    written = best_toml(calibration, calibration.start, 0, 1.0, tmp_path)
    params = resolve(tomllib.loads(written))
    assert params.companies[0].policy.callback_kept == 0.2
    assert params.companies[0].policy.handling == "fifo_queue"  # the manage preset's
    assert written.startswith("# tiny: the base scenario with the values fitted")


# --------------------------------------------------------------------------- ties and variants

TIED = TINY.replace(
    '[[targets]]\nname = "iceberg"',
    '[ties]\n"behaviour.voice.serious" = { of = "behaviour.voice.minor", times = 1.1 }\n\n'
    '[[targets]]\nname = "iceberg"',
    1,
)


def test_a_tied_parameter_follows_its_fitted_one_in_every_variant(tmp_path: Path) -> None:
    calibration = load_calibration(write(tmp_path, TIED))
    for variant in range(len(calibration.variants)):
        params = calibration.params_for(
            {**calibration.start, "behaviour.voice.minor": 0.5}, variant
        )
        assert params.behaviour.voice.serious == pytest.approx(0.55)
    assert calibration.with_ties({"behaviour.voice.minor": 0.2, "x": 1})[
        "behaviour.voice.serious"
    ] == pytest.approx(0.22)


@pytest.mark.parametrize(
    ("tie", "words"),
    [
        (
            '{ of = "behaviour.voice.minr", times = 1.0 }',
            "ties.behaviour.voice.serious.of: 'behaviour.voice.minr' is not a fitted parameter",
        ),
        (
            '{ of = "behaviour.voice.minor", times = 3.0 }',
            "ties.behaviour.voice.serious at parameters.behaviour.voice.minor.high",
        ),
        ('{ of = "behaviour.voice.minor" }', "ties.behaviour.voice.serious.times"),
    ],
)
def test_a_bad_tie_is_one_line_naming_the_file_and_the_tie(
    tmp_path: Path, tie: str, words: str
) -> None:
    text = TIED.replace('{ of = "behaviour.voice.minor", times = 1.1 }', tie)
    with pytest.raises(CalibrationError) as caught:
        load_calibration(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert words in message


def test_a_variant_that_chooses_its_companies_keeps_them_whatever_the_fit(tmp_path: Path) -> None:
    text = TINY.replace(
        '"behaviour.retention.churn_midpoint" = { low = -2.0, high = 0.0, start = -1.0 }',
        '"behaviour.retention.churn_midpoint" = { low = -2.0, high = 0.0, start = -1.0 }\n'
        '"companies.0.delivered_quality" = { low = 0.9, high = 0.99 }',
    ).replace(
        'variant = { "market.advertising_rate" = 5.0 }',
        'variant = { "market.advertising_rate" = 5.0, companies = [{ name = "own", delivered_quality = 0.5, max_quality = 0.99 }] }',
    )
    calibration = load_calibration(write(tmp_path, text))
    values = {**calibration.start, "companies.0.delivered_quality": 0.95}
    own = calibration.params_for(values, calibration.targets[2].variant)
    assert own.companies[0].name == "own"
    assert own.companies[0].delivered_quality == 0.5
    base = calibration.params_for(values, calibration.targets[0].variant)
    assert base.companies[0].delivered_quality == 0.95


def test_cmaes_with_a_step_searches_around_the_start_values(tmp_path: Path) -> None:
    """With ``cmaes_step`` CMA-ES's first generation sits near the start, not mid-bounds.

    Step 0.01 of the range: a coordinate of a 9-sample generation lies within 5 steps of
    its start with probability above 0.999999 (a normal's 5-sd tail), so every sampled
    midpoint is within 0.1 of -1.0 (range 2); from the middle of the bounds a sixth of
    the range (0.33) is the step, and the voice parameter's start (the middle) says nothing.
    """
    import optuna

    from cxsim.calibrate.study import sampler_for

    text = TINY.replace("seed = 11", 'seed = 11\nsampler = "cmaes"\ncmaes_step = 0.01')
    text = text.replace("start = -1.0", "start = -1.9")
    calibration = load_calibration(write(tmp_path, text))
    study = optuna.create_study(sampler=sampler_for(calibration, 0))
    distributions = {
        p.key: optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)
        for p in calibration.parameters
    }
    midpoints = []
    for _ in range(9):
        trial = study.ask(distributions)
        midpoints.append(trial.params["behaviour.retention.churn_midpoint"])
        study.tell(trial, 1.0)
    assert max(abs(m + 1.9) for m in midpoints) < 0.1


def test_a_cdn_report_loads_plotly_instead_of_embedding_it(
    finished: tuple[Path, Any], tmp_path: Path
) -> None:
    from cxsim.calibrate.report import write_report

    path, result = finished
    calibration = load_calibration(path)
    study = CalibrationStore(result.out_dir).open_study(create=False)
    inline = (result.out_dir / "calibration_report.html").read_text()
    cdn = write_report(calibration, study, result, tmp_path / "r.html", "cdn").read_text()
    assert 'src="https://cdn.plot.ly/' in cdn
    assert 'src="https://cdn.plot.ly/' not in inline
    assert len(cdn) < len(inline) - 3_000_000  # plotly.js itself is about 4.6 MB
    assert "Optimisation history" in cdn


def _told(
    number: int,
    value: float | None,
    params: dict[str, float],
    moved: str | None = None,
    phase: str | None = None,
):
    """A finished trial as the study stores it (``value`` None: it failed)."""
    import optuna

    calibration = calibration_from_text(TINY)
    distributions = {p.key: p.distribution() for p in calibration.parameters}
    state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.FAIL
    trial = optuna.trial.create_trial(
        params=params,
        distributions=distributions,
        value=value,
        state=state,
        user_attrs=({"phase": "spread", "moved": moved} if moved else {"phase": phase or "search"}),
    )
    trial.number = number
    return trial


def test_the_refine_phase_finishes_a_search_that_did_not_arrive_on_a_sharp_narrow_bowl() -> None:
    """CMA-ES from the search's best tenth, told generation by generation, closes in on the minimum.

    A bowl 100 times sharper along one parameter than the other (as the recovery check's
    retention midpoint is against its other parameters), minimum 10 at places (0.4, 0.6). Forty
    uniform search trials leave the best far from it; 96 refine trials (12 generations of 8)
    must bring the best at least ten times closer to the minimum's value, and the last
    generation's trials must lie around the minimum, not where the search left off.
    """
    from cxsim.calibrate import refine, spread

    calibration = calibration_from_text(TINY)
    voice, midpoint = calibration.parameters
    centre = np.array([0.4, 0.6])
    sharpness = np.array([1e3, 1e5])

    def place(z: np.ndarray) -> dict[str, float]:
        return {
            voice.key: voice.low + z[0] * (voice.high - voice.low),
            midpoint.key: midpoint.low + z[1] * (midpoint.high - midpoint.low),
        }

    def value(params: dict[str, float]) -> float:
        z = np.array([spread._unit(p, params[p.key]) for p in calibration.parameters])
        return 10.0 + float(sharpness @ (z - centre) ** 2)

    rng = np.random.default_rng(1)
    trials = [_told(n, value(place(z)), place(z)) for n, z in enumerate(rng.uniform(size=(40, 2)))]
    searched = min(t.value for t in trials)
    size = refine.population(calibration)
    assert size == 8  # 4 + floor(3 ln 2) = 6, rounded up to whole batches of 4
    for number in range(40, 40 + 12 * size, size):  # a generation asked, then told
        asked = [refine.refine_values(calibration, trials, n) for n in range(number, number + size)]
        trials += [_told(number + i, value(v), v, phase="refine") for i, v in enumerate(asked)]
    refined = min(t.value for t in trials)
    assert refined - 10.0 < (searched - 10.0) / 10
    last = np.array(
        [[spread._unit(p, t.params[p.key]) for p in calibration.parameters] for t in trials[-8:]]
    )
    assert np.all(np.abs(last.mean(axis=0) - centre) < np.abs(_best_place(trials[:40]) - centre))
    # The same trials told give the same next trial; another trial number, another draw.
    again = refine.refine_values(calibration, trials, 40 + 12 * size)
    assert again == refine.refine_values(calibration, trials, 40 + 12 * size)
    assert again != refine.refine_values(calibration, trials, 41 + 12 * size)


def _best_place(trials: list[Any]) -> np.ndarray:
    from cxsim.calibrate import spread

    calibration = calibration_from_text(TINY)
    best = min(trials, key=lambda t: t.value)
    return np.array([spread._unit(p, best.params[p.key]) for p in calibration.parameters])


def test_a_refine_generation_is_asked_only_after_the_one_before_it_is_told() -> None:
    from cxsim.calibrate import refine

    calibration = calibration_from_text(TINY)
    voice, midpoint = (p.key for p in calibration.parameters)
    trials = [_told(n, 20.0 + n, {voice: 0.3 + 0.01 * n, midpoint: -1.0}) for n in range(12)]
    asked = [refine.refine_values(calibration, trials, n) for n in range(12, 20)]
    trials += [_told(12 + i, 5.0, v, phase="refine") for i, v in enumerate(asked)]
    trials[-1] = optuna_running(trials[-1])
    with pytest.raises(RuntimeError, match="before generation 0 was told"):
        refine.refine_values(calibration, trials, 20)
    # A failed member counts as its generation's worst: the next generation is asked.
    trials[-1] = _told(19, None, asked[-1], phase="refine")
    assert refine.refine_values(calibration, trials, 20) != refine.refine_values(
        calibration, trials[:-8], 12
    )


def optuna_running(trial: Any) -> Any:
    """The same trial, asked but not told."""
    import optuna

    running = optuna.trial.FrozenTrial(
        number=trial.number,
        state=optuna.trial.TrialState.RUNNING,
        value=None,
        datetime_start=trial.datetime_start,
        datetime_complete=None,
        params=trial.params,
        distributions=trial.distributions,
        user_attrs=trial.user_attrs,
        system_attrs={},
        intermediate_values={},
        trial_id=trial._trial_id,
    )
    return running


def test_a_walks_step_shrinks_where_its_moves_leave_the_good_fits_and_grows_where_they_stay() -> (
    None
):
    from cxsim.calibrate import spread

    calibration = calibration_from_text(TINY)
    voice, midpoint = (p.key for p in calibration.parameters)
    at = {voice: 0.4, midpoint: -1.0}
    # No noise estimate here (no replications stored): the margin is χ²(2, 0.95) = 5.99.
    trials = [_told(0, 10.0, at), _told(1, 12.0, at | {midpoint: -1.005})]
    trials += [_told(n, 50.0, at | {voice: 0.3}, moved=voice) for n in (2, 3, 4)]
    trials += [_told(5, None, at | {voice: 0.2}, moved=voice)]  # a failed walk counts as left
    trials += [_told(6, 11.0, at | {midpoint: -1.01}, moved=midpoint)]  # stayed: at most 1
    trials += [_told(7, 40.0, at | {midpoint: -1.5}, moved=midpoint)]  # left: 1/√2
    trials += [_told(8, 13.0, at | {midpoint: -0.99}, moved=midpoint)]  # stayed: back to 1
    scales = spread.step_scales(calibration, trials)
    assert scales[voice] == pytest.approx(spread.SHRINK**4)  # four walks left: a quarter
    assert scales[midpoint] == 1.0
    # The walk's step is bounded by STEP x scale x max(good range, LEAST_RANGE), in units of
    # the bounds: every good fit has voice 0.4, so the 2% floor holds.
    bound = spread.STEP * scales[voice] * spread.LEAST_RANGE * (0.9 - 0.05)
    moves = []
    for number in range(9, 400, 2):  # odd: walks
        values, moved = spread.spread_values(calibration, trials, number)
        if moved == voice:
            moves.append(abs(values[voice] - 0.4))
            assert values[midpoint] in (-1.0, -1.005, -1.01, -0.99)  # a good fit's
    assert len(moves) > 50
    assert max(moves) <= bound * (1 + 1e-12)
    assert max(moves) > bound * 0.9  # the draws use the whole step, not a sliver of it


def test_the_quadratic_region_finds_a_known_bowl_and_is_not_trusted_outside_its_trials() -> None:
    from cxsim.calibrate import spread

    calibration = calibration_from_text(TINY)
    voice, midpoint = calibration.parameters
    rng = np.random.default_rng(5)
    centre = np.array([0.4, 0.6])  # places in the bounds
    bowl = np.array([[400.0, 150.0], [150.0, 300.0]])  # a tilted ridge

    def place(z: np.ndarray) -> dict[str, float]:
        return {
            voice.key: voice.low + z[0] * (voice.high - voice.low),
            midpoint.key: midpoint.low + z[1] * (midpoint.high - midpoint.low),
        }

    points = centre + rng.normal(0.0, 0.08, size=(40, 2))
    values = [3.0 + (z - centre) @ bowl @ (z - centre) for z in points]
    trials = [_told(n, v, place(z)) for n, (z, v) in enumerate(zip(points, values, strict=True))]
    found = spread.quadratic_region(calibration, trials)
    assert found is not None
    at, shape = found
    np.testing.assert_allclose(at, centre, atol=1e-6)
    level = min(values) + spread.margin_of(calibration, trials).value - 3.0
    np.testing.assert_allclose(shape, bowl / level, rtol=1e-6)
    # The same bowl seen only from one side: its centre lies outside the trials' box.
    side = [t for t, z in zip(trials, points, strict=True) if z[0] > centre[0] + 0.02]
    lowest, wide = min(t.value for t in side), spread.margin_of(calibration, side).value
    near = [t for t in side if t.value <= lowest + spread.NEAR * wide]
    assert len(near) >= 12  # twice the quadratic's six terms: only the box rules it out
    assert spread.quadratic_region(calibration, side) is None


def test_the_spread_says_how_much_of_each_range_its_last_half_of_trials_added() -> None:
    from types import SimpleNamespace

    from cxsim.calibrate.cli import summary_text
    from cxsim.calibrate.outputs import spread_table
    from cxsim.calibrate.spread import Margin

    calibration = calibration_from_text(TINY)
    voice, midpoint = (p.key for p in calibration.parameters)
    rows = [  # trial, phase, good, voice, midpoint
        (0, "search", True, 0.40, -1.0),
        (1, "search", True, 0.50, -1.0),
        (2, "search", False, 0.80, -1.8),
        (3, "spread", True, 0.45, -1.0),
        (4, "spread", True, 0.45, -1.0),
        (5, "spread", True, 0.60, -1.0),  # the last half: widens voice from 0.1 to 0.2
        (6, "spread", False, 0.90, -0.2),  # not a good fit: adds nothing
    ]
    trials = pd.DataFrame(rows, columns=["trial", "phase", "good", voice, midpoint])
    table = spread_table(calibration, trials, trials.iloc[0]).set_index("parameter")
    assert table.loc[voice, "good_low"] == 0.40
    assert table.loc[voice, "good_high"] == 0.60
    assert table.loc[voice, "last_half_added"] == pytest.approx(0.5)
    assert table.loc[midpoint, "last_half_added"] == 0.0  # every good fit at -1: no range
    searched = spread_table(calibration, trials[trials["phase"] == "search"], trials.iloc[0])
    assert searched["last_half_added"].isna().all()  # no spread trials: nothing to say

    result = SimpleNamespace(
        best_value=1.0,
        best_trial=0,
        files=[],
        best_values={voice: 0.4, midpoint: -1.0},
        spread=table.reset_index(),
        margin=Margin(2, 5.99, float("nan"), 5.99, 1.0, 1.0, 0),
    )
    assert "the last half of the spread trials added 50% of it" in summary_text(result)


def test_good_fits_are_measured_from_the_surface_not_from_the_least_of_many_noisy_trials() -> None:
    from cxsim.calibrate import spread

    calibration = calibration_from_text(TINY)
    voice, midpoint = calibration.parameters
    rng = np.random.default_rng(8)
    centre = np.array([0.4, 0.6])
    bowl = np.array([[400.0, 150.0], [150.0, 300.0]])

    def place(z: np.ndarray) -> dict[str, float]:
        return {
            voice.key: voice.low + z[0] * (voice.high - voice.low),
            midpoint.key: midpoint.low + z[1] * (midpoint.high - midpoint.low),
        }

    # The surface's least value is 20; each trial adds noise of sd 3 that no parameter explains.
    points = centre + rng.normal(0.0, 0.08, size=(200, 2))
    surface = np.array([20.0 + (z - centre) @ bowl @ (z - centre) for z in points])
    values = surface + rng.normal(0.0, 3.0, size=len(points))
    trials = [_told(n, v, place(z)) for n, (z, v) in enumerate(zip(points, values, strict=True))]
    found = spread.margin_of(calibration, trials)
    best = int(np.argmin(values))
    assert found.best == values[best]
    assert found.near >= 12  # twice the quadratic's six terms
    # The least of 200 noisy values lies well below the surface there; the reference does not.
    assert surface[best] - values[best] > 4.0
    assert found.reference == pytest.approx(surface[best], abs=1.5)
    assert found.level == found.reference + found.value
    good = {t.number for t in spread.good_fits(calibration, trials)}
    assert good == {n for n, v in enumerate(values) if v <= found.level}
    # Ten trials: too few for a surface; the reference is the best objective itself.
    few = spread.margin_of(calibration, trials[:10])
    assert few.near == 0
    assert few.reference == min(values[:10])
