"""cxsim: do companies keep customers by managing complaints, or by fixing them.

An agent-based model (Mesa) of companies with complaint-handling policies and
customers on a social network. See ``docs/ODD.md`` for the model.

The names below are imported on first use, so that ``import cxsim`` and
``cxsim --help`` stay fast; ``from cxsim import Market`` works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cxsim.lazy import lazy_names
from cxsim.version import __version__

#: Public name -> the module that defines it.
_LAZY = {
    "Market": "cxsim.model",
    "run_market": "cxsim.run",
    "ModelParams": "cxsim.params",
    "CompanyParams": "cxsim.params",
    "PolicyParams": "cxsim.params",
    "POLICY_PRESETS": "cxsim.params",
    "ParameterError": "cxsim.params",
    "resolve": "cxsim.params",
    "sweep": "cxsim.sweeps",
    # cxsim.sweeps.analyze is also a submodule's name, which shadows the function once that
    # module is imported; cxsim.analyze is always the function.
    "analyze": "cxsim.sweeps.outputs",
    # A package that is called as a function: cxsim.calibrate(...) (see cxsim.lazy).
    "calibrate": "cxsim.calibrate",
}

if TYPE_CHECKING:
    from cxsim.calibrate import calibrate
    from cxsim.model import Market
    from cxsim.params import (
        POLICY_PRESETS,
        CompanyParams,
        ModelParams,
        ParameterError,
        PolicyParams,
        resolve,
    )
    from cxsim.run import run_market
    from cxsim.sweeps import sweep
    from cxsim.sweeps.outputs import analyze

__all__ = [
    "POLICY_PRESETS",
    "CompanyParams",
    "Market",
    "ModelParams",
    "ParameterError",
    "PolicyParams",
    "__version__",
    "analyze",
    "calibrate",
    "resolve",
    "run_market",
    "sweep",
]


__getattr__, __dir__ = lazy_names("cxsim", _LAZY, globals())
