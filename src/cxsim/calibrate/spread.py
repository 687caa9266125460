"""The region of good fits: its margin, and the trials that map it.

**Good fits** are the trials whose objective lies within a margin of the best:
``χ²(k, 0.95) x (1 + r)`` (see :mod:`cxsim.calibrate.likelihood`), with ``r``
the simulation noise relative to the observations' (:func:`noise_ratio`),
measured from a *reference level*: where enough trials lie near the best, the
value at the best trial of a quadratic surface fitted to them, since the least
of many noisy objectives lies below the surface (:func:`reference_level`);
otherwise the best objective itself. They are the calibration's answer to
"which values fit as well as the best, given the data and the noise", and
their range per parameter is the spread the report gives.

**Mapping the region.** The search (TPE or CMA-ES) looks for the best; it does
not map the region around it, so the good fits it happens to try can miss much
of the region: a ridge along which two parameters trade off, or a plateau
where the data cannot tell values apart. So after the search,
``spread_trials`` trials map it, two ways in turn (parameters placed in their
bounds, 0 to 1, on a log scale for log parameters; values reflected at the
bounds):

* *the ellipsoid* (even trials): a quadratic fitted to the objective of the
  trials near the best gives the region as an ellipsoid, ridges included
  (:func:`quadratic_region`); the trial is drawn uniformly in it, enlarged by
  30% to see its edge. The quadratic is trusted only where it describes the
  trials it was fitted to: at least twice as many trials near the best as it
  has terms, and its centre inside the box those trials span. Otherwise (few
  trials near a sharp minimum; trials that each moved one parameter, which
  cannot tell the cross terms) it would put its centre at a corner of the
  bounds, and the trial is a *joint walk* instead: a good fit with every
  parameter moved by a normal step, whose spread is that parameter's walking
  step (below) over ``2 sqrt(k)``, so that the whole move is about as long as a
  walk's. These trials fill the design in every direction, so a later
  quadratic can be trusted;
* *the walk* (odd trials): a good fit, taken at random, has one of its
  parameters moved by a uniform step of up to ``STEP x scale x max(range,
  LEAST_RANGE)``: twice the good fits' range on it (at least 2% of the
  bounds), times the parameter's *step scale*. Along a plateau, where the
  quadratic is flat, half the moves stay good and widen the range, so the next
  batch steps further. Where the region is far narrower than 2% of the bounds
  (sharp data: a well identified parameter), almost every such step would
  leave it, so the step scale adapts per parameter to the walks that moved it,
  as the one-fifth success rule of evolution strategies adapts a step
  (Rechenberg 1973; :func:`step_scales`): halved by every two walks that left
  the good fits, doubled by every walk that stayed (never above 1), so that
  about a third of the walks stay good whatever the width of the region.

Walks start from good fits, so a walk that finds a better value moves the best:
the spread also finishes a search that had not quite arrived. What counts as a
good fit is still the objective each trial gets, never the quadratic. The
trials near the best are taken again before each batch from every trial told;
the draws of trial n are seeded from (seed, n), so they depend on the trials
told, not on the executor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxsim.calibrate.evaluation import Evaluation
from cxsim.calibrate.likelihood import LEVEL, margin
from cxsim.calibrate.spec import Calibration, Parameter

#: Trials whose replications estimate the simulation noise: the best tenth, at least this many.
NOISE_TRIALS = 5
#: A walking spread trial moves one parameter of a good fit by up to this many times the good
#: fits' range on it ...
STEP = 2.0
#: ... taking the range as at least this share of the parameter's bounds (on its scale) ...
LEAST_RANGE = 0.02
#: ... times its step scale: multiplied by this after a walk that stayed good (at most 1) ...
GROW = 2.0
#: ... and by this after a walk that left the good fits (or failed); never below 2^-20.
SHRINK = 2.0**-0.5
#: The quadratic is fitted to the trials within this many margins of the best ...
NEAR = 4.0
#: ... and its ellipsoid of good fits is sampled enlarged by this factor, to see its edge.
ENLARGE = 1.3


@dataclass(frozen=True)
class Margin:
    """The objective margin of good fits, the level it is measured from, and where they come from.

    Attributes:
        parameters: k, the number of fitted parameters.
        chi2: the 95% quantile of χ²(k).
        noise_ratio: r, simulation variance over observation variance (mean over cells;
            NaN with one replication, where it cannot be estimated).
        value: χ²(k, 0.95) x (1 + r).
        best: the least objective of any trial.
        reference: the level good fits are measured from: the surface's value at the best trial
            (:func:`reference_level`), or ``best`` where no surface is fitted.
        near: the trials the surface was fitted to (0: none fitted).

    """

    parameters: int
    chi2: float
    noise_ratio: float
    value: float
    best: float = math.nan
    reference: float = math.nan
    near: int = 0

    @property
    def level(self) -> float:
        """The objective at or below which a trial is a good fit: reference + margin."""
        return self.reference + self.value

    def describe_reference(self) -> str:
        """The level the margin is measured from, in words."""
        if not self.near:
            return f"the best objective, {self.best:.4g}"
        return (
            f"{self.reference:.4g}, the value at the best trial of a quadratic surface fitted to "
            f"the {self.near} trials near it (the best trial's own objective, {self.best:.4g}, "
            "is the least of many values that each carry simulation noise, and so lies below "
            "the surface)"
        )

    def describe(self) -> str:
        """The margin in words, for the report and the command's output."""
        noise = (
            f"simulation noise r = {self.noise_ratio:.3g} (the variance of a simulated mean over "
            "the fit's replications, relative to the observation's, averaged over cells)"
            if math.isfinite(self.noise_ratio)
            else "simulation noise not estimated (one replication per trial)"
        )
        factor = 1.0 + self.noise_ratio if math.isfinite(self.noise_ratio) else 1.0
        return (
            f"{self.value:.4g} = χ²({self.parameters}, {LEVEL:.2f}) x (1 + r) = {self.chi2:.4g} "
            f"x {factor:.3g}; {noise}"
        )


def evaluation_of(trial: Any) -> Evaluation | None:
    """The runs a trial kept (``None`` if it has none)."""
    data = trial.user_attrs.get("evaluation")
    return Evaluation.from_json(data) if data and "values" in data else None


def noise_ratio(calibration: Calibration, evaluations: list[Evaluation], best: Evaluation) -> float:
    """r: the variance of a simulated mean over the fit's replications relative to the observation's.

    The variance between replications is pooled over ``evaluations`` (the best trials: near the
    best values the noise is alike), divided by R, and compared per cell with the variance of the
    observation that the target's likelihood implies at the best values; r is the mean over the
    cells of fitted targets (bands, which say nothing about noise inside them, are left out).
    """
    replications = len(best.replications)
    if replications < 2:
        return float("nan")
    ratios: list[np.ndarray] = []
    means = best.means()
    for target in calibration.targets:
        if target.weight <= 0 or target.likelihood.kind == "band":
            continue
        stacked = np.stack([e.values[target.index] for e in evaluations])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a cell never measured: NaN
            between = np.nanmean(np.nanvar(stacked, axis=1, ddof=1), axis=0)
        observed = target.likelihood.observation_variance(means[target.index])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(between / replications / observed)
    values = np.concatenate(ratios) if ratios else np.array([])
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def ranked(trials: list[Any]) -> list[Any]:
    """The finished trials with a value, best first (ties: the earliest)."""
    done = [t for t in trials if t.value is not None and t.state.name == "COMPLETE"]
    return sorted(done, key=lambda t: (t.value, t.number))


def margin_of(calibration: Calibration, trials: list[Any]) -> Margin | None:
    """The margin of good fits among ``trials`` and its reference (``None`` before any value)."""
    order = ranked(trials)
    if not order:
        return None
    best = evaluation_of(order[0])
    top = [e for e in (evaluation_of(t) for t in order[: max(NOISE_TRIALS, len(order) // 10)]) if e]
    ratio = noise_ratio(calibration, top, best) if best is not None else float("nan")
    k = len(calibration.parameters)
    value = margin(k, ratio)
    reference, near = reference_level(calibration, order, value)
    return Margin(k, margin(k, 0.0), ratio, value, float(order[0].value), reference, near)


def near_quadratic(
    calibration: Calibration, order: list[Any], value: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]] | None:
    """The quadratic surface near the best, shared by the reference level and the ellipsoid.

    A full quadratic in the parameters' places in their bounds (constant, linear terms,
    products), fitted by least squares to the objective of the trials within :data:`NEAR`
    margins (``value``) of the best (``order``: best first). Returns the near trials' places
    and design rows (the best's first), the coefficients and the products' pairs; ``None``
    with fewer near trials than twice the quadratic's terms.
    """
    params = calibration.parameters
    k = len(params)
    near = [t for t in order if t.value <= order[0].value + NEAR * value]
    if len(near) < (k + 1) * (k + 2):  # twice the quadratic's terms
        return None
    z = np.array([place(calibration, t) for t in near])
    pairs = [(i, j) for i in range(k) for j in range(i, k)]
    design = np.column_stack([np.ones(len(z)), z, *[z[:, i] * z[:, j] for i, j in pairs]])
    coef, *_ = np.linalg.lstsq(design, np.array([t.value for t in near]), rcond=None)
    return z, design, coef, pairs


def reference_level(calibration: Calibration, order: list[Any], value: float) -> tuple[float, int]:
    """The level good fits are measured from, and the trials the surface was fitted to.

    Every trial's objective carries simulation noise, and not all of it is common to the trials:
    an agent-based run answers a small change of a parameter with different individual events,
    so neighbouring trials differ by more than their parameters explain. The least objective of
    many trials is then biased low, the more so the more trials are run, and a margin measured
    from it shrinks as a study goes on. The reference is instead the value at the best trial of
    a full quadratic in the parameters' places in their bounds, fitted by least squares to the
    trials within :data:`NEAR` margins of the best (the response surface of stochastic
    optimisation, whose minimum is not biased by picking the least of noisy values), and never
    below the best's own objective. With fewer near trials than twice the quadratic's terms
    the reference is the best objective itself (``near`` = 0).
    """
    best = float(order[0].value)
    fit = near_quadratic(calibration, order, value)
    if fit is None:
        return best, 0
    z, design, coef, _ = fit
    return max(best, float(design[0] @ coef)), len(z)  # the surface at the best trial


def _scale(p: Parameter, value: float) -> float:
    return math.log(value) if p.log else value


def _unscale(p: Parameter, value: float) -> float:
    return math.exp(value) if p.log else value


def good_fits(calibration: Calibration, trials: list[Any]) -> list[Any]:
    """The trials at or below the level of good fits (reference + margin), best first."""
    order = ranked(trials)
    found = margin_of(calibration, trials)
    if found is None:
        return []
    return [t for t in order if t.value <= found.level]


def _unit(p: Parameter, value: float) -> float:
    """A value's place in the parameter's bounds, 0 to 1 (on its scale)."""
    low, high = _scale(p, p.low), _scale(p, p.high)
    return (_scale(p, value) - low) / (high - low)


def place(calibration: Calibration, trial: Any) -> np.ndarray:
    """A trial's values as places in their parameters' bounds, 0 to 1 (on each one's scale)."""
    return np.array([_unit(p, float(trial.params[p.key])) for p in calibration.parameters])


def _from_unit(p: Parameter, z: float) -> Any:
    low, high = _scale(p, p.low), _scale(p, p.high)
    z = abs(z) if z < 0 else (2.0 - z if z > 1 else z)  # reflected back inside the bounds
    value = min(max(_unscale(p, low + min(max(z, 0.0), 1.0) * (high - low)), p.low), p.high)
    return round(value) if p.value_type == "int" else value


def quadratic_region(
    calibration: Calibration, trials: list[Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The region of good fits as an ellipsoid: centre and shape matrix A (unit scales).

    The objective of the trials near the best (within :data:`NEAR` margins) is fitted by least
    squares with a quadratic ``c + g'z + z'Az`` in the parameters' places in their bounds; the
    region is where it lies below the level of good fits: ``(z - z0)' A (z - z0) <= 1``, with
    A rescaled so. ``None`` (not trusted) while fewer than twice the quadratic's terms are near
    the best, or where its centre z0 lies outside the box the near trials span.
    """
    order = ranked(trials)
    found = margin_of(calibration, trials)
    if found is None:
        return None
    fit = near_quadratic(calibration, order, found.value)
    if fit is None:
        return None
    z, _, coef, pairs = fit
    k = z.shape[1]
    gradient = coef[1 : k + 1]
    quad = np.zeros((k, k))
    for c, (i, j) in zip(coef[k + 1 :], pairs, strict=True):
        quad[i, j] += c / 2
        quad[j, i] += c / 2
    eigen, vectors = np.linalg.eigh(quad)
    if eigen.max() <= 0:
        return None
    # A direction the fit finds flat or curving down is taken as very wide (up to the bounds).
    eigen = np.maximum(eigen, 1e-3 * eigen.max())
    quad = (vectors * eigen) @ vectors.T
    centre = np.linalg.solve(quad, -gradient / 2)
    if (centre < z.min(axis=0)).any() or (centre > z.max(axis=0)).any():
        return None  # extrapolated beyond the trials it describes
    lowest = coef[0] + gradient @ centre + centre @ quad @ centre
    level = found.level - lowest
    if not level > 0:
        level = found.value
    return centre, quad / level


def step_scales(calibration: Calibration, trials: list[Any]) -> dict[str, float]:
    """Each parameter's walking step scale, from the walks told so far (see the notes).

    The finished walks (spread trials with a ``moved`` parameter) are taken in the order of
    their numbers; a walk that is now a good fit multiplies its parameter's scale by
    :data:`GROW` (at most 1), one that is not, or failed, by :data:`SHRINK`. A function of the
    trials told, so the same on every executor.
    """
    good = {t.number for t in good_fits(calibration, trials)}
    scales = {p.key: 1.0 for p in calibration.parameters}
    for trial in sorted(trials, key=lambda t: t.number):
        moved = trial.user_attrs.get("moved")
        if moved not in scales or not trial.state.is_finished():
            continue
        if trial.number in good:
            scales[moved] = min(1.0, scales[moved] * GROW)
        else:
            scales[moved] = max(2.0**-20, scales[moved] * SHRINK)
    return scales


def spread_values(
    calibration: Calibration, trials: list[Any], number: int
) -> tuple[dict[str, Any], str | None] | None:
    """The values of spread trial ``number`` (see the notes) and the parameter a walk moved.

    ``None`` before any trial has a value; the parameter is ``None`` for a trial drawn in the
    ellipsoid or a joint walk.
    """
    good = good_fits(calibration, trials)
    if not good:
        return None
    rng = np.random.default_rng([calibration.seed, number, 0x5EED])
    params = calibration.parameters
    region = quadratic_region(calibration, trials) if number % 2 == 0 else None
    if region is not None:  # uniform in the ellipsoid of good fits, enlarged to see its edge
        centre, shape = region
        direction = rng.standard_normal(len(params))
        direction /= np.linalg.norm(direction)
        radius = ENLARGE * rng.uniform() ** (1.0 / len(params))
        eigen, vectors = np.linalg.eigh(shape)
        z = centre + vectors @ (radius * (vectors.T @ direction) / np.sqrt(eigen))
        return {p.key: _from_unit(p, float(z[i])) for i, p in enumerate(params)}, None
    start = good[int(rng.integers(len(good)))]
    values = {p.key: start.params[p.key] for p in params}
    scales = step_scales(calibration, trials)
    steps = {}
    for p in params:
        seen = [_unit(p, float(t.params[p.key])) for t in good]
        steps[p.key] = STEP * scales[p.key] * max(max(seen) - min(seen), LEAST_RANGE)
    if number % 2 == 0:  # a joint walk: every parameter moved, the design filled in
        spread = rng.standard_normal(len(params)) / (2.0 * math.sqrt(len(params)))
        for p, z in zip(params, spread, strict=True):
            moved = _unit(p, float(start.params[p.key])) + z * steps[p.key]
            values[p.key] = _from_unit(p, moved)
        return values, None
    p = params[int(rng.integers(len(params)))]  # a walk: one parameter moved
    step = steps[p.key]
    values[p.key] = _from_unit(p, _unit(p, float(start.params[p.key])) + rng.uniform(-step, step))
    return values, p.key
