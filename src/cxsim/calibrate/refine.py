"""The refine phase: a local CMA-ES from what the search found, so that the spread mostly maps.

**Why.** A global search (TPE, or CMA-ES from the middle of the bounds) on
sharp data does not arrive: in the parameter-recovery check its 200 trials ended
at objectives of 52-242 while the truth scores about 18, and the spread trials,
meant to map the region of good fits, had to finish the search; 128 of them did
in three draws of four (``experiments/calibration_recovery.py``). The refine
phase takes the search most of the rest of the way: ``refine_trials`` trials
(default 24 per fitted parameter) of CMA-ES started from the search's best
trials, between the search and the spread. In the recovery check it took the
best from 93-223 after the search to 10-32 in six runs of nine; in the other
three (97, 100, and 62 where the search had reached 52) the spread's walks,
which start from good fits, had to finish it.

**The start** is the warm start of WS-CMA-ES (Nomura et al. 2021,
:func:`cmaes.get_warm_start_mgd`), with the search itself as the source task:
the mean and covariance of the search's best tenth of trials (at least
:data:`LEAST_SOURCE`), in the parameters' places in their bounds (0 to 1, on a
log scale for log parameters). Those trials are spread more along a parameter
the data pin less, so the first steps already have the right shapes: on the
recovery check's four earlier draws the truth lay 0.6-1.7 standard deviations
of this start from its mean. The prior ``alpha`` of WS-CMA-ES (an identity
added to the covariance, for a source task that differs from the target) is
:data:`ALPHA`, a floor of 0.1% of the bounds, since here source and target are
the same task.

**Learning rates.** A trial's objective is noisy, and far from the best its
noise is large; and the search's best trials may sit in another basin than
the best (in the sixth recovery draw, at a broken promise's effect of -1.1 to
-1.7 where the truth is -0.3), so the ranks of a generation say little about
the way out of it. So the CMA-ES is LRA-CMA-ES (Nomura, Akimoto & Ono 2023,
``lr_adapt=True`` in :class:`cmaes.CMA`): it adapts the learning rates of the
mean and covariance to keep their signal-to-noise ratio constant, which lets
CMA-ES with its default population solve noisy and multimodal problems.

**Generations.** The population is the default of CMA-ES, 4 + 3 ln k, rounded
up to whole batches, so that a generation is asked only after the one before it
is told. Trial n of the phase is member n mod population of generation
n // population. The state of CMA-ES is not stored: it is rebuilt before each
ask by telling it the trials of the generations already told, in the order of
their numbers (a trial that failed counts as the generation's worst), and the
draw is seeded from (seed, trial number); so the phase, like the search, asks
the same trials on any executor, and after a resume.

What a refine trial scores is kept as it is, like any trial's: a better value
moves the best, and refine trials near it are good fits like any other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cxsim.calibrate.spec import Calibration
from cxsim.calibrate.spread import _from_unit, place

#: The best share of the search's trials that the start is estimated from ...
SOURCE_SHARE = 0.1
#: ... at least this many of them.
LEAST_SOURCE = 10
#: The prior of WS-CMA-ES: a standard deviation added in every direction (share of the bounds).
ALPHA = 1e-3
#: A seed of the phase's draws, beside (seed, trial number).
STREAM = 0xC3A


def population(calibration: Calibration) -> int:
    """Trials per generation: CMA-ES's default 4 + floor(3 ln k), rounded up to whole batches."""
    k = len(calibration.parameters)
    default = 4 + math.floor(3 * math.log(k)) if k > 0 else 4
    size = calibration.spec.batch_size
    return -(-default // size) * size


def _finished(trial: Any) -> bool:
    return trial.state.is_finished()


def _value(trial: Any) -> float | None:
    if trial.state.name == "COMPLETE" and trial.value is not None and math.isfinite(trial.value):
        return float(trial.value)
    return None


def start(calibration: Calibration, trials: list[Any]) -> tuple[np.ndarray, float, np.ndarray]:
    """The mean, step and covariance CMA-ES starts from (see the notes), from the search's trials."""
    import cmaes

    source = [
        (place(calibration, t), value)
        for t in trials
        if t.user_attrs.get("phase", "search") == "search" and (value := _value(t)) is not None
    ]
    if not source:
        raise ValueError("the refine phase needs a search trial with a value")
    gamma = min(1.0, max(SOURCE_SHARE, LEAST_SOURCE / len(source)))
    return cmaes.get_warm_start_mgd(source, gamma=gamma, alpha=ALPHA)


def optimizer(calibration: Calibration, trials: list[Any], number: int) -> Any:
    """CMA-ES as it stands when trial ``number`` of the refine phase is asked: told every earlier generation."""
    import cmaes

    mean, sigma, cov = start(calibration, trials)
    k = len(calibration.parameters)
    size = population(calibration)
    bounds = np.tile([0.0, 1.0], (k, 1))
    seed = int(np.random.SeedSequence([calibration.seed, STREAM]).generate_state(1)[0] % 2**31)
    cma = cmaes.CMA(
        mean=np.clip(mean, 0.0, 1.0),
        sigma=max(float(sigma), 1e-12),
        lr_adapt=True,
        cov=cov,
        bounds=bounds,
        seed=seed,
        population_size=size,
    )
    refined = sorted(
        (t for t in trials if t.user_attrs.get("phase") == "refine" and t.number < number),
        key=lambda t: t.number,
    )
    for first in range(0, len(refined) - len(refined) % size, size):
        generation = refined[first : first + size]
        if not all(_finished(t) for t in generation):
            raise RuntimeError(
                f"refine trial {number} asked before generation {first // size} was told"
            )
        values = [_value(t) for t in generation]
        scored = [v for v in values if v is not None]
        if not scored:  # every member failed: nothing to learn, the distribution stays
            continue
        worst = max(scored)
        cma.tell(
            [
                (place(calibration, t), worst if v is None else v)
                for t, v in zip(generation, values, strict=True)
            ]
        )
    return cma


def refine_values(calibration: Calibration, trials: list[Any], number: int) -> dict[str, Any]:
    """The values of refine trial ``number`` (see the notes)."""
    cma = optimizer(calibration, trials, number)
    cma.reseed_rng(
        int(np.random.SeedSequence([calibration.seed, number, STREAM]).generate_state(1)[0] % 2**31)
    )
    z = cma.ask()
    return {p.key: _from_unit(p, float(z[i])) for i, p in enumerate(calibration.parameters)}
