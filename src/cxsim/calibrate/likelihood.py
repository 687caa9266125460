r"""How far a simulation is from what was observed: deviances, the objective, and the margin of good fits.

**The objective** of a trial (parameter values θ) is a weighted sum of deviances,

.. code-block:: text

    objective(θ) = Σ_targets w_t Σ_cells D_t(y_tc, m_tc(θ))

where ``y_tc`` is the observed value of cell c of target t, ``m_tc(θ)`` the mean
of the measurement over the trial's R replications (NaN replications left
out), ``w_t`` the target's weight, and ``D`` the deviance of the target's
likelihood: ``D = 2 [log L(y) - log L(m)]``, twice the log-likelihood lost by
simulating m where y was observed, so a perfect fit (m = y) scores 0,
``D >= 0``, and targets of different kinds add up on one scale:

* ``binomial`` (a share y of n cases; n a sample size or a stated *effective*
  sample size): ``D = 2 n [ y ln(y / m) + (1 - y) ln((1 - y) / (1 - m)) ]``.
* ``beta_binomial`` (a share of n cases with overdispersion ρ, the
  intra-class correlation: variance ``n m (1 - m) (1 + (n - 1) ρ)``): with
  ``α = m (1 - ρ) / ρ`` and ``β = (1 - m) (1 - ρ) / ρ``,
  ``log L(m) = ln B(y n + α, (1 - y) n + β) - ln B(α, β)``; its effective
  sample size is ``n / (1 + (n - 1) ρ)``.
* ``normal`` (a figure observed with standard error sd): ``D = ((y - m) / sd)^2``.
* ``band`` (a range [low, high] held equally likely, e.g. churn of 3-8% a
  year): ``D = 0`` inside; outside, ``((distance to the band) / sd)^2``: sd
  states how steeply the fit worsens outside the band.

A simulated share of 0 (or 1) is moved to 1e-6 (or 1 - 1e-6) where the
observed share is not 0 (or 1) too, so a simulated 0% against an observed 5%
costs a large but finite deviance.

**The margin of good fits.** With the objective a deviance, the parameter sets
whose objective lies within ``χ²(k, 0.95)`` of the best (k fitted parameters)
form an approximate 95% likelihood-ratio confidence region. The simulated
means carry simulation noise as well. Trials share their random numbers
(replication r of every trial is run (seed, r)), so that noise is mostly
common to all trials: it shifts the simulated means as observation noise
shifts the observed ones, and widens the region by the factor ``1 + r``, with
``r`` the mean over cells of (variance of a simulated mean over R
replications) / (variance of the observation the likelihood implies). Hence

.. code-block:: text

    margin = χ²(k, 0.95) x (1 + r)

:func:`margin` computes it; the report says both terms. Not all of the noise
is common, though: an agent-based run answers a small change of a parameter
with different individual events, so neighbouring trials differ by more than
their parameters explain, and the least objective of many trials lies below
the objective's surface. The margin is therefore measured from the value at
the best trial of a quadratic surface fitted to the trials near it, where
there are enough of them (:func:`cxsim.calibrate.spread.reference_level`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

LIKELIHOODS = ("binomial", "beta_binomial", "normal", "band")
Kind = Literal["binomial", "beta_binomial", "normal", "band"]

#: Simulated shares are kept within [EPSILON, 1 - EPSILON] (a finite deviance for 0% and 100%).
EPSILON = 1e-6
#: The confidence level of the region of good fits.
LEVEL = 0.95


@dataclass(frozen=True)
class Likelihood:
    """The likelihood of one target: its kind and, per cell, what was observed.

    Attributes:
        kind: ``binomial``, ``beta_binomial``, ``normal`` or ``band``.
        observed: observed values per cell (NaN for a band).
        n: sample sizes (or effective sample sizes) per cell (binomial, beta_binomial).
        overdispersion: the intra-class correlation ρ in (0, 1) (beta_binomial).
        sd: standard errors (normal), or the steepness outside the band (band).
        low: lower ends of the band per cell (band).
        high: upper ends of the band per cell (band).

    """

    kind: Kind
    observed: np.ndarray
    n: np.ndarray | None = None
    overdispersion: float | None = None
    sd: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def deviance(self, simulated: np.ndarray) -> np.ndarray:
        """Deviance per cell of the simulated means (0: a perfect fit; NaN where not simulated)."""
        m = np.asarray(simulated, dtype=np.float64)
        if self.kind == "binomial":
            assert self.n is not None
            return binomial_deviance(self.observed, m, self.n)
        if self.kind == "beta_binomial":
            assert self.n is not None
            assert self.overdispersion is not None
            return beta_binomial_deviance(self.observed, m, self.n, self.overdispersion)
        assert self.sd is not None
        if self.kind == "normal":
            return ((self.observed - m) / self.sd) ** 2
        assert self.low is not None
        assert self.high is not None
        outside = np.maximum(self.low - m, 0.0) + np.maximum(m - self.high, 0.0)
        return np.where(np.isnan(m), np.nan, (outside / self.sd) ** 2)

    @property
    def effective_n(self) -> np.ndarray | None:
        """The sample size per cell that the likelihood stands for (shares only)."""
        if self.n is None:
            return None
        if self.kind == "beta_binomial":
            assert self.overdispersion is not None
            return self.n / (1.0 + (self.n - 1.0) * self.overdispersion)
        return self.n

    def observation_variance(self, simulated: np.ndarray) -> np.ndarray:
        """Variance of the observation per cell as the likelihood implies it, at the simulated means.

        NaN for a band, which says nothing about noise inside it.
        """
        m = np.asarray(simulated, dtype=np.float64)
        if self.kind in ("binomial", "beta_binomial"):
            n = self.effective_n
            assert n is not None
            p = np.clip(m, EPSILON, 1.0 - EPSILON)
            return p * (1.0 - p) / n
        if self.kind == "normal":
            assert self.sd is not None
            return np.broadcast_to(self.sd**2, m.shape).astype(np.float64)
        return np.full(m.shape, np.nan)


def _xlogy_ratio(y: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The term y ln(y / m), with 0 ln 0 = 0."""
    return special.xlogy(y, y) - special.xlogy(y, m)


def binomial_deviance(y: np.ndarray, m: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``2 n [y ln(y/m) + (1-y) ln((1-y)/(1-m))]`` per cell (NaN where m is NaN)."""
    y, m = np.broadcast_arrays(np.asarray(y, np.float64), np.asarray(m, np.float64))
    # m is moved off 0 and 1 only where the observation is not there too (0 ln 0 = 0).
    p = np.where((m < EPSILON) & (y > 0), EPSILON, m)
    p = np.where((p > 1.0 - EPSILON) & (y < 1), 1.0 - EPSILON, p)
    deviance = 2.0 * n * (_xlogy_ratio(y, p) + _xlogy_ratio(1.0 - y, 1.0 - p))
    return np.where(np.isnan(m), np.nan, np.maximum(deviance, 0.0))


def _beta_binomial_log_likelihood(
    k: np.ndarray, n: np.ndarray, m: np.ndarray, rho: float
) -> np.ndarray:
    """The log-likelihood of k successes in n (real-valued) at mean m and intra-class correlation rho, up to a constant."""
    c = (1.0 - rho) / rho
    a, b = m * c, (1.0 - m) * c
    return special.betaln(k + a, n - k + b) - special.betaln(a, b)


def beta_binomial_deviance(y: np.ndarray, m: np.ndarray, n: np.ndarray, rho: float) -> np.ndarray:
    """``2 [log L(y) - log L(m)]`` of the beta-binomial per cell, cut at 0 (NaN where m is NaN).

    With overdispersion the likelihood of one observed share peaks a hair off the share
    itself; the cut keeps a perfect fit (m = y) at 0 and every deviance non-negative.
    """
    y, m, n = np.broadcast_arrays(
        np.asarray(y, np.float64), np.asarray(m, np.float64), np.asarray(n, np.float64)
    )
    k = y * n
    perfect = _beta_binomial_log_likelihood(k, n, np.clip(y, EPSILON, 1.0 - EPSILON), rho)
    at = _beta_binomial_log_likelihood(k, n, np.clip(m, EPSILON, 1.0 - EPSILON), rho)
    return np.where(np.isnan(m), np.nan, np.maximum(2.0 * (perfect - at), 0.0))


def margin(parameters: int, noise_ratio: float) -> float:
    """The objective margin of good fits: ``χ²(k, 0.95) x (1 + r)`` (see the module notes)."""
    ratio = noise_ratio if math.isfinite(noise_ratio) else 0.0
    return float(stats.chi2.ppf(LEVEL, max(parameters, 1)) * (1.0 + ratio))
