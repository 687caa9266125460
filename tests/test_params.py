import pytest

from cxsim import POLICY_PRESETS, ModelParams
from cxsim.params import (
    Allowed,
    ParameterError,
    PolicyParams,
    field_info,
    field_paths,
    leaf_annotation,
    resolve,
    suggest_key,
    value_type,
)


def test_defaults_are_one_managing_and_one_fixing_company():
    p = ModelParams()
    assert [c.policy.preset for c in p.companies] == ["manage", "fix"]
    assert p.companies[0].policy.refund_rule == "policy"
    assert p.companies[1].policy.refund_rule == "no_questions"


def test_presets_are_stored_as_differences_from_the_policy_defaults():
    defaults = PolicyParams().model_dump(mode="json")
    for name, diff in POLICY_PRESETS.items():
        for key, value in diff.items():
            assert defaults[key] != value, f"{name}.{key} repeats the default"
    assert POLICY_PRESETS["fix"] == {}


def test_preset_expands_to_its_values():
    p = resolve(None, {"companies.0.policy.preset": "fix"})
    assert p.companies[0].policy.model_dump(exclude={"preset"}) == PolicyParams().model_dump(
        exclude={"preset"}
    )


def test_dotted_override_beats_preset_whatever_the_order():
    p = resolve(None, {"companies.0.policy.apology": False, "companies.0.policy.preset": "fix"})
    assert p.companies[0].policy.handling == "immediate"
    assert p.companies[0].policy.apology is False


def test_choosing_a_preset_replaces_the_old_policy_so_nothing_leaks():
    p = resolve(None, {"companies.0.policy.preset": "fix"})
    assert p.companies[0].policy.crm_touches_per_month == PolicyParams().crm_touches_per_month


def test_policy_given_as_preset_name_string():
    p = ModelParams.model_validate({"companies": [{"name": "a", "policy": "manage"}]})
    assert p.companies[0].policy.handling == "fifo_queue"
    assert p.companies[0].policy.preset == "manage"


def test_dotted_key_into_a_preset_string_policy():
    base = {"companies": [{"name": "a", "policy": "manage"}]}
    p = resolve(base, {"companies.0.policy.callback_kept": 0.9})
    assert p.companies[0].policy.callback_kept == 0.9
    assert p.companies[0].policy.handling == "fifo_queue"


def test_overrides_of_default_companies_apply_to_those_companies():
    p = resolve({"market": {"days": 10}}, {"companies.1.price": 50})
    assert p.companies[1].price == 50
    assert p.companies[1].name == "fixing"


def test_a_file_is_checked_whole_before_any_override_applies():
    with pytest.raises(ParameterError, match=r"^x\.toml: market\.days: expected a whole number"):
        resolve({"market": {"days": "abc"}}, {"market.days": 5}, label="x.toml")


def test_unknown_field_is_rejected_with_a_suggestion_naming_the_override():
    with pytest.raises(ParameterError, match="--set k: unknown key 'refund_rul'; did you mean"):
        resolve(
            None,
            {"companies.0.policy.refund_rul": "never"},
            names={"companies.0.policy.refund_rul": "--set k"},
        )


def test_bad_enum_value_is_rejected():
    with pytest.raises(ParameterError, match="expected one of never, policy, no_questions"):
        resolve(None, {"companies.1.policy.refund_rule": "sometimes"})


def test_negative_probability_is_rejected():
    with pytest.raises(ParameterError, match=r"behaviour\.voice\.minor.*>= 0"):
        resolve(None, {"behaviour.voice.minor": -0.1})


def test_index_out_of_range_is_refused():
    with pytest.raises(ParameterError, match="index 5 is out of range: there are 2 companies"):
        resolve(None, {"companies.5.price": 10})


def test_odd_degree_is_rejected_for_small_world():
    with pytest.raises(ParameterError, match="even"):
        resolve(None, {"network.mean_degree": 7})


def test_file_network_needs_a_path():
    with pytest.raises(ParameterError, match="path"):
        resolve(None, {"network.kind": "file"})


def test_an_allowlist_refuses_other_fields_and_values_past_its_ends():
    limits = {"network.mean_degree": Allowed(2, 30), "network.kind": Allowed(options=("random",))}
    assert resolve(None, {"network.mean_degree": 12}, limits=limits).network.mean_degree == 12
    with pytest.raises(ParameterError, match="from 2 to 30, got 1000"):
        resolve(None, {"network.mean_degree": 1000}, limits=limits)
    with pytest.raises(ParameterError, match="expected one of random"):
        resolve(None, {"network.kind": "file"}, limits=limits)
    with pytest.raises(ParameterError, match="not a setting that can be changed here"):
        resolve(None, {"network.path": "/etc/passwd"}, limits=limits)


def test_every_field_has_a_description_and_source():
    def walk(model):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"

    from cxsim import params as cp

    for cls in (
        cp.MarketParams,
        cp.NetworkParams,
        cp.ProblemParams,
        cp.VoiceParams,
        cp.AttitudeParams,
        cp.WordOfMouthParams,
        cp.RetentionParams,
        cp.PolicyParams,
        cp.PromotionParams,
        cp.CompanyParams,
        cp.JourneyParams,
    ):
        walk(cls)


def test_field_paths_cover_nested_groups():
    paths = field_paths()
    assert "companies.N.policy.refund_rule" in paths
    assert "behaviour.word_of_mouth.negative_audience" in paths
    assert "market.customers" in paths


def test_keys_name_fields_by_index_or_n_and_groups_are_not_parameters():
    assert field_info("companies.1.policy.callback_kept") is field_info(
        "companies.N.policy.callback_kept"
    )
    assert field_info("companies[1].price") is field_info("companies.N.price")
    with pytest.raises(KeyError, match="group of parameters"):
        leaf_annotation("companies.0.policy")
    with pytest.raises(KeyError, match="name an item"):
        leaf_annotation("companies.price")
    assert suggest_key("companies.1.policy.calback_kept").endswith(
        "companies.1.policy.callback_kept?"
    )


NUMBER_PATHS = [
    path.replace(".N.", ".0.")
    for path in field_paths()
    if value_type(leaf_annotation(path.replace(".N.", ".0."))) in ("int", "float")
    and ".promotions." not in path  # the defaults have no promotion to index
]


@pytest.mark.parametrize("key", NUMBER_PATHS)
def test_true_and_false_are_not_numbers_anywhere_in_the_schema(key: str) -> None:
    # pydantic would read them as 1 and 0: `days = true` would run a one-day market.
    for value in (True, False):
        with pytest.raises(ParameterError) as caught:
            resolve(None, {key: value}, label="f.toml")
        assert str(caught.value) == (
            f"f.toml: {key}: expected a {'whole ' if value_type(leaf_annotation(key)) == 'int' else ''}"
            f"number, got {'true' if value else 'false'}"
        )
