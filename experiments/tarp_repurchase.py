"""Experiment 3: the TARP repurchase table.

TARP's table (as widely reproduced) gives the share of customers who buy again
by what happened to their problem. For losses under $5: did not complain 37%,
complained and not satisfied 46%, complained and satisfied 70%, satisfied
quickly 95%; for losses over $100: 9%, 19%, 54%, 82%.

**Measurement** (:func:`classify`, from the journey log of every customer; the
rule is :mod:`cxsim.calibrate.repurchase`'s, which calibration counts online).
For each ``problem_minor`` event (small loss) of customer i with company k on
day d, the outcome is

* *did not complain*: no ``complained`` event of i on day d (voice is decided
  the day of the problem); its outcome is the problem itself;
* otherwise the first later event of i among ``fixed``, ``complaint_ignored``
  and ``broken_promise``: ``fixed`` with a ``fixed_quickly`` of i the same day
  is *satisfied quickly*, ``fixed`` alone *satisfied*, the other two *not
  satisfied*. A complaint with no such event before i leaves, switches or has
  its next problem (which makes a pending callback void) is censored.

Repurchase: the first of i's ``purchase``, ``left`` and ``switched_out`` events
logged after the outcome is a ``purchase`` with k. A day's purchases are logged
before its problems and complaint handling, and its departures after them, so
this is a purchase strictly after the outcome day, and a departure later on
the outcome day counts as not buying again. Problems with no such later event
are censored. Large losses are measured the same way on ``problem_serious``.

**Scenario** (``scenarios/tarp_repurchase.toml``, written by this script): one
shop, 50,000 people, complaints handled on the day (fixed with chance 0.5),
unfixed ones mostly closed with a call-back promise (0.8) that is kept after 7
days with chance 0.6 (a kept call-back is a second, slow chance of a fix), no
refunds, apologies, goodwill, CRM touches, review answers or learning, so that
the four classes are moved by exactly the four fitted effects:
``problem_minor`` (all classes), ``complained`` (the three complaint classes),
``fixed`` (the two satisfied classes) and ``fixed_quickly_bonus`` (satisfied
quickly). The not-satisfied class also carries the model's default penalties
for an ignored complaint (-0.2) and a broken call-back (-0.5), not refitted.

Chosen, not fitted (worked out, then checked in trial fits):

* Word of mouth is off. TARP's table is about first-hand experience; with
  one company, hearsay only drags every attitude down (to about 0.15 on
  average at the default audience sizes) and spreads it.
* The leaving hazard. Repurchase after a problem is about E[exp(-h T)] =
  lam / (lam + h) with T ~ Exp(1 / lam) the time to the next purchase
  (lam = 12.2 a year), so TARP's 37/46/70/95% need hazards of about 20.7,
  14.3, 5.2 and 0.64 a year. On the logistic's tail, log h falls linearly
  with attitude at slope 1 / churn_width, so the classes must sit 0.37, 1.01
  and 2.10 widths apart. The 1.01 widths between not satisfied and satisfied
  must hold the -0.2/-0.5 penalties (about 0.34 on average) plus ``fixed``:
  in trial fits at churn_width 0.25 and 0.30 ``fixed`` was pinned at its
  bound 0, and at 0.45 it came out at 0.23 but the flatter hazard cost
  problem-free customers more (88% repurchase), so churn_width = 0.35
  (``fixed`` comes out small but positive).
  ``max_churn_per_year`` = 200 puts the hazard's ceiling far above the
  silent class (the brief's 30-60 would put a floor of 17-29% under every
  class, above TARP's 9% for large losses), and ``churn_midpoint`` = -1.6 is
  about as low as still lets a silent minor problem reach 37% within the
  attitude floor of -1 (at -1.8 even an attitude of -1 repurchases 40%),
  which keeps problem-free customers' hazard as low as this model allows
  (about 0.7 a year at the problem-free attitude of 0.41). Even so,
  customers buy again after a problem-free purchase only about 91% of the
  time, less than after a quick fix (95%): past problems linger (attitudes
  forget over a year), and the fitted quick fix ends above the pre-problem
  attitude.
* ``problem_serious`` keeps the defaults' ratio to ``problem_minor``
  (0.35 / 0.15), capped at the schema's -2.
* Voice 0.4 (minor) and 0.5 (serious), delivered quality 0.85 and strong
  advertising (which refills the market): about 34,000 silent, 6,400 not
  satisfied, 1,900 satisfied and 9,500 quickly satisfied minor problems per
  measured year and run (sampling SE at most about 1 point).

**Calibration** (common random numbers: the same seeds at every iteration; a
burn-in year, then the problems of a measured year, followed up for 90 more
days). The table is triangular in the cumulative attitude shifts
s1 = problem_minor, s2 = s1 + complained, s3 = s2 + fixed,
s4 = s3 + fixed_quickly_bonus: class c depends mainly on s_c. Each iteration
moves every s_c by a secant (quasi-Newton) step on logit(repurchase), with the
slope estimated from the previous iterations (bounded; steps capped), until
all four classes are within 2 points of TARP or the iterations run out (the
best iteration is kept).

**Validation** runs the fitted scenario on five fresh seeds (never used in
fitting) and reports each class's mean and 95% confidence interval
(t distribution over seeds) against TARP; the +-5-point test uses these.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import Timer, out_dir, parallel_map, write_headline

from cxsim import Market, scenario
from cxsim.calibrate.repurchase import (
    CENSORED,
    CLASSES,
    NOT_SATISFIED,
    QUICK,
    SATISFIED,
    SILENT,
    TARP_LARGE,
    TARP_SMALL,
    classify,
    classify_frame,
    rates,
)
from cxsim.events import Event

NAME = "tarp_repurchase"

# The classification rule lives in cxsim (calibration counts it online, as events happen);
# this experiment applies the same rule to the journey log.
__all__ = [
    "CENSORED",
    "CLASSES",
    "NOT_SATISFIED",
    "QUICK",
    "SATISFIED",
    "SILENT",
    "TARP_LARGE",
    "TARP_SMALL",
    "classify",
    "classify_frame",
    "rates",
]


# --------------------------------------------------------------------------- the scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / f"{NAME}.toml"
BURN_IN = 365  # days before the measured year
MEASURED = 365  # problems of days BURN_IN + 1 .. BURN_IN + MEASURED are measured
FOLLOW_UP = 90  # days simulated after the measured year, so that few problems are censored
FITTED = (
    "behaviour.attitude.problem_minor",
    "behaviour.attitude.complained",
    "behaviour.attitude.fixed",
    "behaviour.attitude.fixed_quickly_bonus",
)
#: problem_serious is not fitted: it keeps the defaults' ratio to problem_minor (-0.35 / -0.15).
SERIOUS_RATIO = 0.35 / 0.15

#: The scenario file, with the fitted and chosen values as fields.
TEMPLATE = """\
# TARP repurchase: a shop whose customers buy again, or not, by what became of their small problem.
#
# TARP's repurchase table (as widely reproduced, losses under $5): of customers
# with a problem, 37% of those who did not complain buy again, 46% of those who
# complained and were not satisfied, 70% of those who complained and were
# satisfied, 95% of those satisfied quickly. One shop, {customers:,} people on
# a small-world network, every journey logged. Complaints are handled on the
# day: fixed with chance 0.5 (satisfied quickly); an unfixed one is closed with
# a call-back promise (chance 0.8) that is kept after 7 days with chance 0.6,
# a second, slow chance of a fix (satisfied, not quickly); otherwise, and when
# the call-back does not fix it, the customer is not satisfied. No refunds,
# apologies, goodwill, CRM touches, review answers or learning, and no word of
# mouth (the table is about first-hand experience), so the four classes are
# moved by exactly the four fitted effects.
#
# Calibrated by experiments/tarp_repurchase.py: common random numbers (seeds
# {fit_seeds}), a burn-in year, the problems of the second year followed up for
# {follow_up} more days; quasi-Newton steps on logit(repurchase) over the cumulative
# attitude shifts until each class is within 2 points of TARP. Fitted values:
#   behaviour.attitude.problem_minor       = {problem_minor:.3f}
#   behaviour.attitude.complained          = {complained:.3f}
#   behaviour.attitude.fixed               = {fixed:.3f}
#   behaviour.attitude.fixed_quickly_bonus = {fixed_quickly_bonus:.3f}
# Chosen, not fitted: leaving hazard max_churn_per_year = {max_churn:g}, churn_midpoint
# = {midpoint:g}, churn_width = {width:g} (see the experiment's docstring);
# problem_serious = {problem_serious:.3f} keeps the defaults' ratio to problem_minor.
#
# {expect}
#
# Run: python experiments/tarp_repurchase.py --validate-only (measures the table
# from the journey log); cxsim run tarp_repurchase runs the market alone.

[market]
customers = {customers}
days = {days}
seed = 1
initial_adoption = 0.9
advertising_rate = {advertising_rate:g}

[network]
kind = "small_world"
mean_degree = 10

[behaviour.problems]
customer_fault_share = 0.0

[behaviour.voice]
minor = {voice_minor:g}
serious = {voice_serious:g}

[behaviour.word_of_mouth]
negative_tell_probability = 0.0
positive_tell_probability = 0.0
promoter_tell_probability = 0.0

[behaviour.attitude]
problem_minor = {problem_minor:.4f}
problem_serious = {problem_serious:.4f}
complained = {complained:.4f}
fixed = {fixed:.4f}
fixed_quickly_bonus = {fixed_quickly_bonus:.4f}

[behaviour.retention]
max_churn_per_year = {max_churn:g}
churn_midpoint = {midpoint:g}
churn_width = {width:g}

[journey]
sample_size = {customers}
max_events = {max_events}

[[companies]]
name = "shop"
delivered_quality = {quality:g}
promised_quality = {quality:g}

[companies.policy]
handling = "immediate"
reachability = 1.0
fix_probability = 0.5
refund_rule = "never"
callback_probability = 0.8
callback_kept = 0.6
callback_days = 7
apology = false
goodwill_probability = 0.0
review_response_probability = 0.0
learning_rate = 0.0
crm_touches_per_month = 0.0
"""

#: Values of the scenario that are not fitted (see the docstring for why).
DESIGN: dict[str, Any] = {
    "customers": 50_000,
    "days": BURN_IN + MEASURED + FOLLOW_UP,
    "advertising_rate": 20.0,
    "voice_minor": 0.4,
    "voice_serious": 0.5,
    "quality": 0.85,
    "max_events": 6_000_000,
    "max_churn": 200.0,
    "midpoint": -1.6,
    "width": 0.35,
    "follow_up": FOLLOW_UP,
}
#: Starting point of the fit: round numbers, not the answer.
START = {"problem_minor": -1.0, "complained": 0.4, "fixed": 0.1, "fixed_quickly_bonus": 0.8}
FIT_SEEDS = (101, 102)
VALIDATION_SEEDS = (1, 2, 3, 4, 5)


def render(
    effects: dict[str, float], design: dict[str, Any] | None = None, expect: str = ""
) -> str:
    """The scenario's TOML text for the given attitude effects."""
    values = {**DESIGN, **(design or {}), **effects}
    values["problem_serious"] = max(-2.0, SERIOUS_RATIO * values["problem_minor"])
    values["fit_seeds"] = ", ".join(map(str, FIT_SEEDS))
    return TEMPLATE.format(
        expect=expect or "Expect: see experiments/results/tarp_repurchase/.", **values
    )


def simulate(job: tuple[str, int]) -> dict[str, Any]:
    """Run the scenario text on one seed; cases and repurchases by class, small and large losses."""
    text, seed = job
    start = time.perf_counter()
    params = scenario.from_text(text, SCENARIO, {"market.seed": seed}).params
    market = Market(params).run()
    log = market.journey
    ev = log.events[: log.size]
    out: dict[str, Any] = {"seed": seed, "dropped": log.dropped, "events": log.size}
    for loss, problem in (("small", Event.problem_minor), ("large", Event.problem_serious)):
        problems = classify(ev["day"], ev["customer"], ev["company"], ev["event"], problem)
        window = problems[(problems["day"] > BURN_IN) & (problems["day"] <= BURN_IN + MEASURED)]
        table = rates(window)
        out[loss] = table
        out[f"{loss}_problems"] = len(window)
        out[f"{loss}_censored_outcome"] = int((window["outcome"] == CENSORED).sum())
        out[f"{loss}_censored_repurchase"] = int(
            ((window["outcome"] >= 0) & (window["repurchased"] == CENSORED)).sum()
        )
    # Context, not a TARP class: repurchase after a purchase without a problem.
    fine = classify(ev["day"], ev["customer"], ev["company"], ev["event"], Event.satisfied)
    fine = fine[(fine["day"] > BURN_IN) & (fine["day"] <= BURN_IN + MEASURED)]
    fine = fine[fine["repurchased"] >= 0]
    out["no_problem_cases"] = len(fine)
    out["no_problem_repurchase"] = float(fine["repurchased"].mean())
    frame = market.results_frame()
    year = frame[(frame["day"] > BURN_IN) & (frame["day"] <= BURN_IN + MEASURED)]
    out["mean_customers"] = float(year["customers"].mean())
    out["annual_churn"] = float(year["churned"].sum() / year["customers"].mean())
    out["seconds"] = time.perf_counter() - start
    return out


def pooled(runs: Sequence[dict[str, Any]], loss: str = "small") -> pd.DataFrame:
    """Cases and repurchase share per class, pooled over runs."""
    cases = sum(r[loss]["cases"] for r in runs)
    bought = sum(r[loss]["cases"] * r[loss]["repurchase"].fillna(0.0) for r in runs)
    return pd.DataFrame({"cases": cases, "repurchase": bought / cases.replace(0, np.nan)})


# --------------------------------------------------------------------------- calibration


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def to_effects(shifts: np.ndarray) -> dict[str, float]:
    """Cumulative attitude shifts (s1..s4) -> the four effects, within the schema's bounds."""
    s = np.asarray(shifts, dtype=float)
    minor = float(np.clip(s[0], -2.0, 0.0))
    complained = float(np.clip(s[1] - minor, -2.0, 2.0))
    fixed = float(np.clip(s[2] - minor - complained, 0.0, 2.0))
    bonus = float(np.clip(s[3] - minor - complained - fixed, 0.0, 2.0))
    return {
        "problem_minor": minor,
        "complained": complained,
        "fixed": fixed,
        "fixed_quickly_bonus": bonus,
    }


def to_shifts(effects: dict[str, float]) -> np.ndarray:
    """The four effects -> cumulative attitude shifts of the four classes."""
    return np.cumsum(
        [
            effects["problem_minor"],
            effects["complained"],
            effects["fixed"],
            effects["fixed_quickly_bonus"],
        ]
    )


def calibrate(
    start: dict[str, float] | None = None,
    design: dict[str, Any] | None = None,
    seeds: Sequence[int] = FIT_SEEDS,
    tolerance: float = 0.02,
    max_iterations: int = 12,
    workers: int = 2,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Fit the four effects to TARP's small-loss table; returns the effects and the iterations.

    Each iteration runs the scenario on ``seeds`` (the same every time: common random
    numbers), pools the cases, and moves each class's cumulative shift s_c by a secant
    step on logit(repurchase): s_c += (logit(target) - logit(simulated)) / slope_c, the
    slope from the last two iterations (bounded to [1, 30]; 5 at first), the step capped
    at 0.25. Stops when every class is within ``tolerance`` of TARP.
    """
    target = np.array(TARP_SMALL)
    effects = dict(start or START)
    shifts = to_shifts(effects)
    slope = np.full(4, 5.0)
    previous: tuple[np.ndarray, np.ndarray] | None = None
    rows = []
    best: tuple[float, dict[str, float]] | None = None
    for iteration in range(max_iterations):
        tic = time.perf_counter()
        runs = parallel_map(
            simulate, [(render(effects, design), s) for s in seeds], workers=workers
        )
        table = pooled(runs)
        sim = table["repurchase"].to_numpy()
        error = sim - target
        row = {"iteration": iteration, **effects}
        for c, name in enumerate(CLASSES):
            row[f"{name}: cases"] = int(table["cases"].iloc[c])
            row[f"{name}: repurchase"] = float(sim[c])
        row["no problem: repurchase"] = float(np.mean([r["no_problem_repurchase"] for r in runs]))
        row["annual_churn"] = float(np.mean([r["annual_churn"] for r in runs]))
        row["max_abs_error_points"] = float(100 * np.max(np.abs(error)))
        row["seconds"] = time.perf_counter() - tic
        rows.append(row)
        print(
            f"  iter {iteration:2d}  "
            + "  ".join(f"{k.split('.')[-1]}={v:+.3f}" for k, v in effects.items())
            + "  ->  "
            + " / ".join(f"{100 * x:.1f}" for x in sim)
            + f"  (max error {row['max_abs_error_points']:.1f} points; no problem"
            + f" {100 * row['no problem: repurchase']:.1f}, churn {row['annual_churn']:.2f}/yr;"
            + f" {row['seconds']:.0f} s)",
            flush=True,
        )
        if best is None or row["max_abs_error_points"] < best[0]:
            best = (row["max_abs_error_points"], dict(effects))
        if np.all(np.abs(error) <= tolerance):
            break
        logit_sim = _logit(sim)
        if previous is not None:
            d_shift = shifts - previous[0]
            d_logit = logit_sim - previous[1]
            moved = np.abs(d_shift) > 0.01
            secant = np.where(moved, d_logit / np.where(moved, d_shift, 1.0), slope)
            slope = np.where(moved & (secant > 0), np.clip(secant, 1.0, 30.0), slope)
        previous = (shifts.copy(), logit_sim)
        step = np.clip((_logit(target) - logit_sim) / slope, -0.25, 0.25)
        effects = to_effects(shifts + step)
        shifts = to_shifts(effects)
    assert best is not None
    return best[1], pd.DataFrame(rows)


# --------------------------------------------------------------------------- validation


def summarise(runs: Sequence[dict[str, Any]], loss: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-seed rows and the table (mean, 95% CI over seeds) of one loss size."""
    from scipy import stats

    target = TARP_SMALL if loss == "small" else TARP_LARGE
    per_seed = pd.concat(
        [r[loss].assign(seed=r["seed"], loss=loss).reset_index() for r in runs],
        ignore_index=True,
    )[["loss", "seed", "class", "cases", "repurchase"]]
    n = len(runs)
    half = stats.t.ppf(0.975, n - 1) if n > 1 else np.nan
    g = per_seed.groupby("class", sort=False)
    table = pd.DataFrame(
        {
            "TARP": 100 * np.array(target),
            "simulated": 100 * g["repurchase"].mean(),
            "ci_half_width": 100 * half * g["repurchase"].std(ddof=1) / math.sqrt(n),
            "cases_per_run": g["cases"].mean(),
            "cases_total": g["cases"].sum(),
        }
    )
    table["ci_low"] = table["simulated"] - table["ci_half_width"]
    table["ci_high"] = table["simulated"] + table["ci_half_width"]
    table["error_points"] = table["simulated"] - table["TARP"]
    table["within_5_points"] = table["error_points"].abs() <= 5.0
    table.index.name = "class"
    cols = ["TARP", "simulated", "ci_low", "ci_high", "error_points", "within_5_points"]
    return per_seed, table[[*cols, "cases_per_run", "cases_total"]].round(2).reset_index()


def plot(small: pd.DataFrame, large: pd.DataFrame, path: Path) -> None:
    """TARP vs simulated repurchase by class, small and large losses, with 95% CIs."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    x = np.arange(len(CLASSES))
    labels = [c.replace(", ", ",\n") for c in CLASSES]
    for ax, table, title in (
        (axes[0], small, "Small losses (under $5): fitted"),
        (axes[1], large, "Large losses (over $100): implied, not fitted"),
    ):
        sim = table["simulated"].to_numpy()
        err = table["ci_high"].to_numpy() - sim
        ax.bar(x - 0.2, table["TARP"], 0.4, color="#7f7f7f", label="TARP")
        ax.bar(x + 0.2, sim, 0.4, yerr=err, capsize=4, color="#1f77b4", label="simulated (95% CI)")
        for xi, t, s, e in zip(x, table["TARP"], sim, err, strict=True):
            ax.text(xi - 0.2, t + 1.5, f"{t:.0f}", ha="center", fontsize=8)
            ax.text(xi + 0.2, s + e + 1.5, f"{s:.0f}", ha="center", fontsize=8)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set(title=title, ylim=(0, 105))
    axes[0].set_ylabel("repurchase (%)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Repurchase by complaint outcome: TARP vs cxsim (5 fresh seeds)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def effects_of(text: str) -> dict[str, float]:
    """The four fitted effects as written in a scenario's text."""
    import tomllib

    attitude = tomllib.loads(text)["behaviour"]["attitude"]
    return {key.split(".")[-1]: float(attitude[key.split(".")[-1]]) for key in FITTED}


def expectation(
    small: pd.DataFrame,
    large: pd.DataFrame,
    context: dict[str, float],
    effects: dict[str, float],
) -> str:
    """The scenario header's Expect paragraph, from the validation tables."""
    net = sum(effects.values())  # a quickly fixed problem's net change of attitude
    paradox = f" (a quick fix ends {net:.2f} above the pre-problem attitude)" if net > 0 else ""

    def fmt(t: pd.DataFrame, col: str) -> str:
        return "/".join(f"{v:.0f}" for v in t[col])

    worst = small["error_points"].abs().max()
    verdict = "within" if worst <= 5 else "NOT all within"
    floor = 100 * hazard_facts()["floor_repurchase"]
    return (
        f"Expect: repurchase by complaint outcome, measured from the journey log (problems of "
        f"the second year), {verdict} 5 points of TARP's {fmt(small, 'TARP')}%: "
        f"{fmt(small, 'simulated')}% on {len(VALIDATION_SEEDS)} fresh seeds (max error "
        f"{worst:.1f} points). Large losses (serious problems, not fitted): "
        f"{fmt(large, 'simulated')}% vs TARP {fmt(large, 'TARP')}%: the attitude floor caps the "
        f"hazard, so no class falls below about {floor:.0f}%. Context: after a purchase without "
        f"a problem {100 * context['no_problem_repurchase']:.0f}% buy again{paradox}, and the "
        f"shop loses about {context['annual_churn']:.1f} customers per customer-year, refilled "
        f"by advertising."
    )


def wrap(text: str, width: int = 80) -> str:
    """Wrap a paragraph for the scenario header (comment lines)."""
    import textwrap

    return "\n# ".join(textwrap.wrap(text, width))


CONTEXT = ("no_problem_repurchase", "annual_churn", "mean_customers")


def hazard_facts(design: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario's leaving hazard in numbers: purchases a year, the floor, the settled attitude."""
    from cxsim import ModelParams

    d = {**DESIGN, **(design or {})}
    defaults = ModelParams()
    base = defaults.behaviour.retention.base_churn_per_year
    lam = 365.0 / defaults.market.purchase_interval_days  # purchases a year

    def hazard(attitude: float, midpoint: float = d["midpoint"]) -> float:
        return base + d["max_churn"] / (1.0 + math.exp((attitude - midpoint) / d["width"]))

    floor = hazard(-1.0)
    needed = lam * (1 / TARP_LARGE[0] - 1) - base  # the hazard that gives TARP's 9%
    return {
        "hazard": hazard,
        "purchases_per_year": lam,
        "floor_hazard": floor,
        "floor_repurchase": lam / (lam + floor),
        "hazard_for_9": needed,
        "midpoint_for_9": -1.0 - d["width"] * math.log(d["max_churn"] / needed - 1.0),
        # A problem-free customer settles where satisfied purchases balance forgetting.
        "settled": lam
        * d["quality"]
        * defaults.behaviour.attitude.satisfied_purchase
        * defaults.behaviour.attitude.memory_days
        / 365.0,
    }


def large_loss_note(effects: dict[str, float], design: dict[str, Any] | None = None) -> str:
    """Why the large-loss classes land where they do, in the scenario's own numbers."""
    f = hazard_facts(design)
    serious = max(-2.0, SERIOUS_RATIO * effects["problem_minor"])
    slow = effects["complained"] + effects["fixed"]
    quick = slow + effects["fixed_quickly_bonus"]
    settled = f["settled"]
    return (
        f"Not fitted. problem_serious = {serious:.2f} (the defaults' ratio 0.35/0.15 to the "
        f"fitted problem_minor, capped by the schema at -2) sends a serious problem's customer "
        f"to or near the attitude floor of -1, where this leaving hazard is "
        f"{f['floor_hazard']:.0f} a year: repurchase cannot fall below about "
        f"{100 * f['floor_repurchase']:.0f}% (more with loyalty), so TARP's 9% and 19% are out "
        f"of reach. Complaining plus a slow fix lifts the customer {slow:.2f} off the floor, a "
        f"quick fix {quick:.2f}. A hazard of {f['hazard_for_9']:.0f} a year at -1 (for 9%) "
        f"needs churn_midpoint >= {f['midpoint_for_9']:.2f}, where a customer without problems "
        f"(attitude about {settled:.2f}) would leave at "
        f"{f['hazard'](settled, f['midpoint_for_9']):.1f} a year instead of "
        f"{f['hazard'](settled):.1f}: with attitudes bounded in [-1, 1] and one logistic hazard, "
        f"the model cannot hold TARP's small- and large-loss tables and a loyal problem-free "
        f"base at once."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Calibrate (unless --validate-only), write the scenario, validate out of sample, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--validate-only",
        action="store_true",
        help="skip the fit: validate the shipped scenarios/tarp_repurchase.toml as it is",
    )
    parser.add_argument("--max-iterations", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    out = out_dir(NAME)
    details: dict[str, Any] = {
        "mode": "validate-only" if args.validate_only else "calibrate and validate",
        "fit_seeds": list(FIT_SEEDS),
        "validation_seeds": list(VALIDATION_SEEDS),
    }
    with Timer() as fit_timer:
        if args.validate_only:
            text = SCENARIO.read_text(encoding="utf-8")
            effects = effects_of(text)
            print(f"validating {SCENARIO} as shipped: {effects}")
        else:
            print(f"calibrating on seeds {FIT_SEEDS} (common random numbers):")
            effects, iterations = calibrate(
                max_iterations=args.max_iterations, workers=args.workers
            )
            iterations.to_csv(out / "calibration.csv", index=False)
            text = render(effects)
            SCENARIO.write_text(text, encoding="utf-8")
    with Timer() as val_timer:
        runs = parallel_map(simulate, [(text, s) for s in VALIDATION_SEEDS], workers=args.workers)
    for r in runs:
        if r["dropped"]:
            raise RuntimeError(f"seed {r['seed']}: the journey log dropped {r['dropped']} events")
    small_seeds, small = summarise(runs, "small")
    large_seeds, large = summarise(runs, "large")
    pd.concat([small_seeds, large_seeds], ignore_index=True).to_csv(
        out / "validation.csv", index=False
    )
    small.to_csv(out / "table.csv", index=False)
    large.to_csv(out / "large_losses.csv", index=False)
    plot(small, large, out / "repurchase.png")
    if not args.validate_only:
        context = {k: float(np.mean([r[k] for r in runs])) for k in CONTEXT}
        text = render(effects, expect=wrap(expectation(small, large, context, effects)))
        SCENARIO.write_text(text, encoding="utf-8")
    print("small losses (fitted; 5 fresh seeds):")
    print(small.to_string(index=False))
    print("large losses (implied, not fitted):")
    print(large.to_string(index=False))
    note = large_loss_note(effects)
    print(note)

    worst = float(small["error_points"].abs().max())
    fmt = "/".join
    sim = fmt(f"{v:.0f}" for v in small["simulated"])
    big = fmt(f"{v:.0f}" for v in large["simulated"])
    misses = [c for c, ok in zip(small["class"], small["within_5_points"], strict=True) if not ok]
    verdict = (
        f"max error {worst:.1f} points, out of sample"
        if not misses
        else f"max error {worst:.1f} points out of sample: NOT within 5 points for {', '.join(misses)}"
    )
    headline = (
        f"simulated repurchase {sim} vs TARP 37/46/70/95 ({verdict}); "
        f"large losses, not fitted: {big} vs TARP 9/19/54/82 (the attitude floor keeps every "
        f"class above ~{100 * hazard_facts()['floor_repurchase']:.0f}%)"
    )
    details.update(
        {
            "fitted": {f"behaviour.attitude.{k}": round(v, 4) for k, v in effects.items()},
            "problem_serious": round(max(-2.0, SERIOUS_RATIO * effects["problem_minor"]), 4),
            "design": {k: v for k, v in DESIGN.items() if k != "follow_up"},
            "small_losses": small.to_dict("records"),
            "large_losses": large.to_dict("records"),
            **{k: float(np.mean([r[k] for r in runs])) for k in CONTEXT},
            "large_loss_note": note,
            "censored_small": {
                "outcome": int(sum(r["small_censored_outcome"] for r in runs)),
                "repurchase": int(sum(r["small_censored_repurchase"] for r in runs)),
                "problems": int(sum(r["small_problems"] for r in runs)),
            },
            "journey_events_per_run": float(np.mean([r["events"] for r in runs])),
            "fit_seconds": fit_timer.seconds,
            "validation_seconds": val_timer.seconds,
        }
    )
    write_headline(NAME, "TARP repurchase table", headline, details)


if __name__ == "__main__":
    main()
