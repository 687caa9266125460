import pytest
from pydantic import ValidationError

from cxsim import POLICY_PRESETS, ModelParams, apply_overrides
from cxsim.params import field_paths


def test_defaults_are_one_managing_and_one_fixing_company():
    p = ModelParams()
    assert [c.policy.preset for c in p.companies] == ["manage", "fix"]
    assert p.companies[0].policy.refund_rule == "policy"
    assert p.companies[1].policy.refund_rule == "no_questions"


def test_preset_expands_to_its_values():
    p = apply_overrides(None, {"companies.0.policy.preset": "fix"})
    for key, value in POLICY_PRESETS["fix"].items():
        assert (
            getattr(p.companies[0].policy, key) == value
            or str(getattr(p.companies[0].policy, key)) == value
        )


def test_dotted_override_beats_preset_whatever_the_order():
    p = apply_overrides(
        None, {"companies.0.policy.apology": False, "companies.0.policy.preset": "fix"}
    )
    assert p.companies[0].policy.handling == "immediate"
    assert p.companies[0].policy.apology is False


def test_policy_given_as_preset_name_string():
    p = ModelParams.model_validate({"companies": [{"name": "a", "policy": "manage"}]})
    assert p.companies[0].policy.handling == "fifo_queue"
    assert p.companies[0].policy.preset == "manage"


def test_dotted_key_into_a_preset_string_policy():
    base = {"companies": [{"name": "a", "policy": "manage"}]}
    p = apply_overrides(base, {"companies.0.policy.callback_kept": 0.9})
    assert p.companies[0].policy.callback_kept == 0.9
    assert p.companies[0].policy.handling == "fifo_queue"


def test_unknown_field_is_rejected():
    with pytest.raises(ValidationError, match="refund_rul"):
        apply_overrides(None, {"companies.0.policy.refund_rul": "never"})


def test_bad_enum_value_is_rejected():
    with pytest.raises(ValidationError, match="refund_rule"):
        apply_overrides(None, {"companies.1.policy.refund_rule": "sometimes"})


def test_negative_probability_is_rejected():
    with pytest.raises(ValidationError):
        apply_overrides(None, {"behaviour.voice.minor": -0.1})


def test_index_out_of_range_is_a_key_error():
    with pytest.raises(KeyError, match="out of range"):
        apply_overrides(None, {"companies.5.price": 10})


def test_odd_degree_is_rejected_for_small_world():
    with pytest.raises(ValidationError, match="even"):
        apply_overrides(None, {"network.mean_degree": 7})


def test_file_network_needs_a_path():
    with pytest.raises(ValidationError, match="path"):
        apply_overrides(None, {"network.kind": "file"})


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
