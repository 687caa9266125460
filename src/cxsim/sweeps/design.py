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
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cxsim.sweeps.plan import Factor

#: Spawn key of the design's random stream under the plan's root seed. Replication r uses
#: spawn key (r,), r < 100,000, so the design's luck never coincides with a replication's.
DESIGN_SPAWN_KEY = (2**31,)


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
