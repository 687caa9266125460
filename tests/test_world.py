"""The versioned default world: pinned scenario files, and retired parameters named in every channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxsim import Market, cli, scenario
from cxsim.errors import InputError
from cxsim.params import RETIRED, ParameterError, WorldPinError, field_info, resolve
from cxsim.sweeps import PlanError, plan_from_text
from cxsim.version import WORLD_VERSION

SMALL = "[market]\ncustomers = 300\ndays = 5\n"
OTHER_WORLD = str(int(WORLD_VERSION) - 1)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_pinned_to_the_current_world_runs_as_usual(tmp_path: Path) -> None:
    pinned = write(tmp_path / "pinned.toml", f'world = "{WORLD_VERSION}"\n{SMALL}')
    plain = write(tmp_path / "plain.toml", SMALL)
    assert scenario.load(pinned).params == scenario.load(plain).params
    assert cli.main(["run", str(pinned), "--out", str(tmp_path / "out"), "-q"]) == 0


def test_a_file_pinned_to_another_world_is_refused_naming_file_both_worlds_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path / "old.toml", f'world = "{OTHER_WORLD}"\n{SMALL}')
    out = tmp_path / "out"
    assert cli.main(["run", str(old), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"{old}: world: the file is pinned to world {OTHER_WORLD}")
    assert f"runs world {WORLD_VERSION}" in err
    assert f'set world = "{WORLD_VERSION}"' in err
    assert "CHANGELOG.md" in err
    assert not out.exists()


def test_the_pin_is_checked_before_the_fields_a_new_world_may_have_renamed(
    tmp_path: Path,
) -> None:
    old = write(tmp_path / "old.toml", f'world = "{OTHER_WORLD}"\n{SMALL}nonsense = 1\n')
    with pytest.raises(WorldPinError, match="pinned to world"):
        scenario.load(old)


@pytest.mark.parametrize("pin", ["true", "1.5", "[2]"])
def test_a_pin_that_is_not_a_version_is_bad_input(tmp_path: Path, pin: str) -> None:
    bad = write(tmp_path / "bad.toml", f"world = {pin}\n{SMALL}")
    with pytest.raises(WorldPinError, match=r"world: expected a world version such as"):
        scenario.load(bad)


def test_a_sweep_plans_base_table_may_pin_its_world_too() -> None:
    plan = "design = 'full_factorial'\nreplications = 1\n[factors]\n'market.days' = [5, 6]\n"
    base = f'[base]\nworld = "{OTHER_WORLD}"\n[base.market]\ncustomers = 300\ndays = 5\n'
    with pytest.raises(PlanError, match=f"pinned to world {OTHER_WORLD}"):
        plan_from_text(plan + base)
    same = base.replace(f'"{OTHER_WORLD}"', f'"{WORLD_VERSION}"')
    assert plan_from_text(plan + same).base.market.customers == 300


def test_the_json_schema_of_scenario_files_accepts_a_world_pin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    jsonschema = pytest.importorskip("jsonschema")
    assert cli.main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.validate({"world": WORLD_VERSION, "market": {"customers": 300}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"world": 2}, schema)


# --------------------------------------------------------------------------- retired parameters

REMOVED = "behaviour.attitude.problem_serious"
REPLACEMENT = "behaviour.attitude.serious_loss_scale"


def test_every_retired_key_is_no_longer_a_parameter() -> None:
    for key, retired in RETIRED.items():
        with pytest.raises(KeyError):
            field_info(key)
        if retired.renamed_to is not None:
            field_info(retired.renamed_to)  # the new name exists


def test_a_removed_field_in_a_scenario_file_names_what_replaced_it(tmp_path: Path) -> None:
    old = write(tmp_path / "old.toml", f"{SMALL}[behaviour.attitude]\nproblem_serious = -0.5\n")
    with pytest.raises(InputError) as err:
        scenario.load(old)
    message = str(err.value)
    assert message.startswith(f"{old}: {REMOVED}: removed in world 2:")
    assert REPLACEMENT in message
    assert "did you mean" not in message


def test_a_removed_field_given_with_set_names_the_option_and_the_replacement(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["run", "manage_vs_fix", "--set", f"{REMOVED}=-0.5", "--out", str(tmp_path / "o")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert f"--set {REMOVED}: removed in world 2" in err
    assert REPLACEMENT in err


def test_a_removed_field_as_a_sweep_factor_names_the_replacement() -> None:
    plan = f"design = 'full_factorial'\n[factors]\n'{REMOVED}' = [-0.5, -0.4]\n[base.market]\ncustomers = 300\n"
    with pytest.raises(PlanError) as err:
        plan_from_text(plan)
    assert f"factors.{REMOVED}" in str(err.value)
    assert REPLACEMENT in str(err.value)


def test_a_removed_field_in_python_names_the_replacement() -> None:
    with pytest.raises(ParameterError, match=REPLACEMENT):
        Market(**{REMOVED: -0.5})
    with pytest.raises(ParameterError, match=REPLACEMENT):
        resolve({"behaviour": {"attitude": {"problem_serious": -0.5}}})
    with pytest.raises(KeyError, match=REPLACEMENT):
        field_info(REMOVED)
