"""Experimental designs: which combinations of factor values a sweep runs.

* ``full_factorial``: every combination of the factors' values (a range gives
  ``levels`` evenly spaced values).
* ``latin_hypercube``: ``samples`` points, each factor's range cut into
  ``samples`` equal strata with one point in each (``scipy.stats.qmc``).
* ``sobol``: Saltelli's scheme for Sobol' sensitivity indices, ``samples`` x
  (D + 2) points for D factors (x (2D + 2) with second-order indices), from
  ``SALib.sample.sobol``; analysed by ``SALib.analyze.sobol`` in
  :mod:`cxsim.sweeps.analyze`.

Samplers draw in the unit cube; :meth:`Factor.from_unit` maps a coordinate to
a value (linearly or logarithmically in a range, or to one of a list's values
with equal chances, so a list factor can join a sampled design).

:func:`count_points` says how many points a design has from its shape alone,
so that a plan can be refused before a single point is made.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Spawn key of the design's random stream under the plan's root seed. Replication r uses
#: spawn key (r,), r < 100,000, so the design's luck never coincides with a replication's.
DESIGN_SPAWN_KEY = (2**31,)


@dataclass(frozen=True)
class Factor:
    """One varied parameter of a sweep.

    Attributes:
        key: dotted key of the scenario schema (``companies.0.policy.callback_kept``).
        levels: the values to choose from, for a factor given as a list.
        low: lowest value, for a factor given as a range.
        high: highest value, for a factor given as a range.
        scale: ``linear`` or ``log`` spacing of a range.
        grid_levels: number of evenly spaced values of a range in a full factorial design.
        value_type: ``int``, ``float``, ``bool`` or ``str``: the type of the parameter's values.

    """

    key: str
    levels: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    scale: str = "linear"
    grid_levels: int | None = None
    value_type: str = "float"

    @property
    def count(self) -> int:
        """Values of the factor in a full factorial design (before integer levels round together)."""
        if self.levels is not None:
            return len(self.levels)
        return self.grid_levels or 0

    def largest(self) -> float | None:
        """The largest number the factor takes (``None`` if it takes no numbers)."""
        if self.levels is None:
            return self.high
        numbers = [v for v in self.levels if isinstance(v, int | float) and not isinstance(v, bool)]
        return max(numbers) if numbers else None

    @property
    def is_range(self) -> bool:
        """Whether the factor is continuous (a range) rather than a list of values."""
        return self.levels is None

    def grid(self) -> list[Any]:
        """The factor's values in a full factorial design."""
        if self.levels is not None:
            return list(self.levels)
        assert self.grid_levels is not None
        assert self.low is not None
        assert self.high is not None
        unit = np.linspace(0.0, 1.0, self.grid_levels)
        values = [self.from_unit(u) for u in unit]
        return list(dict.fromkeys(values))  # an integer range may round two levels together

    def from_unit(self, u: float) -> Any:
        """The value at position ``u`` in [0, 1] of the factor's range or list of levels."""
        if self.levels is not None:
            return self.levels[min(int(u * len(self.levels)), len(self.levels) - 1)]
        assert self.low is not None
        assert self.high is not None
        if self.scale == "log":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        value = min(max(value, self.low), self.high)
        return round(value) if self.value_type == "int" else float(value)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (for the sweep's record and its report)."""
        if self.levels is not None:
            return {"key": self.key, "levels": list(self.levels), "value_type": self.value_type}
        return {
            "key": self.key,
            "range": [self.low, self.high],
            "scale": self.scale,
            "levels": self.grid_levels,
            "value_type": self.value_type,
        }


def count_points(
    factors: list[Factor], design: str, samples: int | None = None, second_order: bool = False
) -> int:
    """Points of a design, from the factors' shape alone (exact Python integers, however many).

    A full factorial has the product of the factors' value counts (an upper bound when an
    integer range rounds two levels together); a Latin hypercube ``samples`` points; Saltelli's
    scheme ``samples`` x (D + 2) for D factors, x (2D + 2) with second-order indices.
    """
    if design == "full_factorial":
        return math.prod(f.count for f in factors)
    if samples is None:
        raise ValueError(f"a {design} design needs samples")
    if design == "latin_hypercube":
        return samples
    if design == "sobol":
        d = len(factors)
        return samples * (2 * d + 2 if second_order else d + 2)
    raise ValueError(f"unknown design {design!r}")


def design_points(
    factors: list[Factor],
    design: str,
    samples: int | None = None,
    seed: int = 0,
    second_order: bool = False,
) -> list[dict[str, Any]]:
    """The points of a design: one dict of factor key -> value per point."""
    if design == "full_factorial":
        return full_factorial(factors)
    if samples is None:
        raise ValueError(f"a {design} design needs samples")
    if design == "latin_hypercube":
        return latin_hypercube(factors, samples, seed)
    if design == "sobol":
        return sobol(factors, samples, seed, second_order)
    raise ValueError(f"unknown design {design!r}")


def full_factorial(factors: list[Factor]) -> list[dict[str, Any]]:
    """Every combination of the factors' values; the last factor varies fastest."""
    keys = [f.key for f in factors]
    return [
        dict(zip(keys, combo, strict=True))
        for combo in itertools.product(*(f.grid() for f in factors))
    ]


def design_rng(seed: int) -> np.random.Generator:
    """The generator of a sampled design, derived from the plan's root seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=DESIGN_SPAWN_KEY))


def latin_hypercube(factors: list[Factor], samples: int, seed: int) -> list[dict[str, Any]]:
    """A Latin hypercube sample of ``samples`` points (``scipy.stats.qmc.LatinHypercube``)."""
    from scipy.stats import qmc

    try:
        sampler = qmc.LatinHypercube(d=len(factors), rng=design_rng(seed))
    except TypeError:  # SciPy < 1.15 names the generator ``seed``
        sampler = qmc.LatinHypercube(d=len(factors), seed=design_rng(seed))
    return from_unit_cube(factors, sampler.random(n=samples))


def salib_problem(factors: list[Factor]) -> dict[str, Any]:
    """The SALib problem of a sweep: one variable per factor, on the unit interval."""
    return {
        "num_vars": len(factors),
        "names": [f.key for f in factors],
        "bounds": [[0.0, 1.0]] * len(factors),
    }


def sobol(
    factors: list[Factor], samples: int, seed: int, second_order: bool
) -> list[dict[str, Any]]:
    """Saltelli's sample for Sobol' indices (``SALib.sample.sobol``), in SALib's order.

    :func:`SALib.analyze.sobol.analyze` needs the model outputs in exactly this
    order, so the point index of a sweep is the row of this sample.
    """
    from SALib.sample import sobol as sobol_sample

    seed_for_salib = int(design_rng(seed).integers(2**31))
    unit = sobol_sample.sample(
        salib_problem(factors), samples, calc_second_order=second_order, seed=seed_for_salib
    )
    return from_unit_cube(factors, unit)


def from_unit_cube(factors: list[Factor], unit: np.ndarray) -> list[dict[str, Any]]:
    """Map points of the unit cube (one row per point) to factor values."""
    return [
        {f.key: f.from_unit(float(u)) for f, u in zip(factors, row, strict=True)} for row in unit
    ]
