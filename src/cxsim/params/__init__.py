"""Parameters: the one schema, dotted keys into it, and the one resolver every input goes through.

* :mod:`cxsim.params.schema`: every parameter, typed, bounded, documented, with its source.
* :mod:`cxsim.params.keys`: dotted keys (``companies.0.policy.refund_rule``), the one walk
  of the schema, and suggestions for misspelt keys.
* :mod:`cxsim.params.resolve`: :func:`resolve` (base + overrides -> validated parameters).
* :mod:`cxsim.params.errors`: validation errors as one line naming the source and the field.
* :mod:`cxsim.params.retired`: renamed and removed parameters, and what to write instead.
"""

from cxsim.params.errors import ParameterError, describe_error, format_loc, format_validation_error
from cxsim.params.keys import (
    DottedKeyError,
    allowed_values,
    bounds,
    did_you_mean,
    field_info,
    field_paths,
    generic,
    leaf_annotation,
    parse_key,
    submodel,
    suggest_key,
    value_type,
)
from cxsim.params.resolve import (
    WORLD_KEY,
    Allowed,
    WorldPinError,
    check_world,
    defaults,
    get_dotted,
    resolve,
    set_dotted,
)
from cxsim.params.retired import RETIRED, Retired, retired_message
from cxsim.params.schema import (
    ASSUMPTION,
    NETWORK_KIND_WORDS,
    POLICY_PRESETS,
    AttitudeParams,
    BehaviourParams,
    CompanyParams,
    Handling,
    JourneyParams,
    MarketParams,
    ModelParams,
    NetworkKind,
    NetworkParams,
    PolicyParams,
    ProblemParams,
    PromotionParams,
    RefundRule,
    RetentionParams,
    VoiceParams,
    WordOfMouthParams,
)

__all__ = [
    "ASSUMPTION",
    "NETWORK_KIND_WORDS",
    "POLICY_PRESETS",
    "RETIRED",
    "WORLD_KEY",
    "Allowed",
    "AttitudeParams",
    "BehaviourParams",
    "CompanyParams",
    "DottedKeyError",
    "Handling",
    "JourneyParams",
    "MarketParams",
    "ModelParams",
    "NetworkKind",
    "NetworkParams",
    "ParameterError",
    "PolicyParams",
    "ProblemParams",
    "PromotionParams",
    "RefundRule",
    "RetentionParams",
    "Retired",
    "VoiceParams",
    "WordOfMouthParams",
    "WorldPinError",
    "allowed_values",
    "bounds",
    "check_world",
    "defaults",
    "describe_error",
    "did_you_mean",
    "field_info",
    "field_paths",
    "format_loc",
    "format_validation_error",
    "generic",
    "get_dotted",
    "leaf_annotation",
    "parse_key",
    "resolve",
    "retired_message",
    "set_dotted",
    "submodel",
    "suggest_key",
    "value_type",
]
