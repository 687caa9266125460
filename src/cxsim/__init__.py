"""cxsim: do companies keep customers by managing complaints, or by fixing them.

An agent-based model (Mesa) of companies with complaint-handling policies and
customers on a social network. See ``docs/ODD.md`` for the model.
"""

from cxsim.model import Market
from cxsim.params import POLICY_PRESETS, CompanyParams, ModelParams, PolicyParams, apply_overrides
from cxsim.sweeps import sweep  # after Market: the sweep layer builds on the model

__version__ = "0.1.0"

__all__ = [
    "POLICY_PRESETS",
    "CompanyParams",
    "Market",
    "ModelParams",
    "PolicyParams",
    "__version__",
    "apply_overrides",
    "sweep",
]
