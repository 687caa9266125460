"""cxsim: do companies keep customers by managing complaints, or by fixing them.

An agent-based model (Mesa) of companies with complaint-handling policies and
customers on a social network. See ``docs/ODD.md`` for the model.

The names below are imported on first use, so that ``import cxsim`` and
``cxsim --help`` stay fast; ``from cxsim import Market`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "calibrate": "cxsim.calibrate",  # a package that is called as a function: cxsim.calibrate(...)
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

__all__ = [
    "POLICY_PRESETS",
    "CompanyParams",
    "Market",
    "ModelParams",
    "ParameterError",
    "PolicyParams",
    "__version__",
    "calibrate",
    "resolve",
    "run_market",
    "sweep",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cxsim' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
