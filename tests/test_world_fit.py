"""The schema's defaults are the world fit's best values, and its ties (experiments/world_fit.toml).

The fit's committed result (``experiments/results/world_fit/best.toml``) is a scenario
with the fitted values; the defaults are those values to 4 significant digits, so the
default world, every story and the dashboard run in the fitted world.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cxsim import scenario
from cxsim.calibrate.spec import load_calibration
from cxsim.params import ModelParams

ROOT = Path(__file__).resolve().parents[1]
FIT = load_calibration(ROOT / "experiments" / "world_fit.toml")
BEST = ROOT / "experiments" / "results" / "world_fit" / "best.toml"


def value_at(params: ModelParams, key: str) -> float:
    """A dotted key's value (``companies.0.x`` is company 0's field)."""
    node: object = params
    for part in key.split("."):
        node = node[int(part)] if part.isdigit() else getattr(node, part)  # type: ignore[index]
    return float(node)  # type: ignore[arg-type]


def default_of(key: str) -> float:
    """The schema's default for a key (a company's field: a default company's)."""
    from cxsim.params.schema import CompanyParams

    if key.startswith("companies."):
        return float(getattr(CompanyParams(name="x"), key.split(".")[-1]))
    return value_at(ModelParams(), key)


KEYS = [p.key for p in FIT.parameters] + [t.key for t in FIT.ties]


@pytest.mark.parametrize("key", KEYS)
def test_the_default_is_the_fitted_value(key: str) -> None:
    best = scenario.load(BEST).params
    fitted = value_at(best, key)
    # 4 significant digits: within 0.05%; a tie, taken of the rounded value and rounded: 0.1%
    assert default_of(key) == pytest.approx(fitted, rel=1e-3, abs=1e-9)


def test_the_flagship_changes_no_fitted_parameter() -> None:
    flagship = scenario.load("manage_vs_fix").params
    for key in KEYS:
        assert value_at(flagship, key) == pytest.approx(default_of(key), rel=1e-12), key
