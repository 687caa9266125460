"""Stage 7, retention: leaving, switching and adopting (mechanism 7 of docs/ODD.md).

**Leaving** is decided at the purchase occasion, by a hazard, not a cliff: a
customer due to buy tomorrow (the purchase stage's draw for that day) buys
again from its provider, or leaves today, with probability
``1 - exp(-h(S) x interval)``, ``interval`` the mean time between purchases in
years, where

    h(S) = base_churn_per_year + max_churn_per_year / (1 + exp((S - churn_midpoint) / churn_width))
    S = felt(provider) + loyalty(t) - alternative_pull x max(0, felt(best-liked competitor))
    loyalty(t) = min(loyalty_cap, loyalty_per_year x t)

``felt`` is lasting attitude plus episode (see the attitude stage), so a recent
bad experience weighs on the next occasion most; ``t`` is tenure in years; praise
of a competitor, by raising how one feels about it, pulls customers away. The
hazard is per year, so a customer at a constant standing leaves at ``h`` a year
whatever the purchase interval. Deciding at the occasion is what a repurchase
is (TARP's table measures it), and it touches only the few people due to buy.

A leaver switches to the competitor it feels best about if that feeling
exceeds ``switch_threshold``, and otherwise leaves the market. A joiner's
lasting attitude toward its new provider gains ``join_increment`` on top of
what it already felt about it.

**Adopting by referral.** A prospect who heard a contact praise company k
today (a happy story, first-hand or retold; not a review) adopts k with
probability ``referral_probability`` x the story's strength (1 first-hand,
halved at each retelling), each hearing on its own; one converted by several
hearings adopts one of them at random. This is customer referral (Kumar,
Petersen & Leone 2007; Villanueva, Yoo & Hanssens 2008): the channel through
which praise, and so good service, wins customers. Referral acquisitions are
counted per company (``referral_acquisitions``).

**Adopting by advertising and imitation** follows Bass (1969). A prospect's hazard of adopting company k is

    h_k = (p x w_k x lift_k + q x f_k) x exp(choice_sensitivity x a_k)

with p and q the yearly advertising and imitation rates per day, ``w_k`` the
company's share of advertising, ``lift_k`` its running promotions, ``f_k`` the
share of the prospect's contacts who are k's customers (the share of the whole
market on a fully mixed network) and ``a_k`` the prospect's attitude toward k
from what it has heard. It adopts with probability ``1 - exp(-sum_k h_k)`` and
picks k with probability ``h_k / sum h``. With one company, neutral attitudes
and nobody leaving, the share of adopters follows Bass's closed form
F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}); with referral off, or no
stories, that limit is exact (tests/test_statistics.py). The draw that picks
the company also names the channel (advertising or imitation, in proportion to
their parts of the chosen company's hazard), counted as
``advertising_acquisitions`` and ``imitation_acquisitions``.

**How imitation and referral divide word-of-mouth adoption.** Bass's q from
the meta-analysis (0.38; Sultan, Farley & Lehmann 1990) is estimated from
whole diffusion curves, so it covers all adoption through other people. Here
that is imitation plus referral, and the imitation rate is re-balanced to
q = 0.32 so that together they adopt as many prospects in the default world
(two companies, 10,000 people, three years) as q = 0.38 did alone: 2,304
against 2,291 word-of-mouth adoptions (8 replications). There imitation
carries 84% of word-of-mouth adoption (1,926) and referral 16% (379), about
15 referral acquisitions per 1,000 positive hearings (of any listener; 50 per
1,000 first-hand hearings by prospects, by construction); advertising adds
290. Imitation is blind to how a company treats people (it follows its share
of one's contacts); referral goes to the company people praise, so almost all
of it (94%) goes to the fixing company. Both rates are assumptions for the
joint calibration: the split moves with how many happy stories are told.
(Measured by ``python experiments/iceberg_wom.py``: the defaults against
``referral_probability = 0, imitation_rate = 0.38``, replications 0-7 of seed 1.)

Adoption uses thinning: candidates are drawn at the largest possible hazard
and accepted with the ratio of their own to it, which is exact and touches
only a few people a day.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.customers import ISSUE_NONE, PROSPECT
from cxsim.events import Event
from cxsim.networks import sort_in_place
from cxsim.rng import bernoulli_started, bit_generator_address, generator_at
from cxsim.stages import purchase

if TYPE_CHECKING:
    from cxsim.model import Market


def step(model: Market) -> None:
    """Customers leave or switch; prospects adopt."""
    rng = model.streams("retention", model.day)
    leave(model, rng)
    adopt(model, rng)


def _hazard_terms(model: Market) -> tuple[float, float, float, float, float]:
    """The leaving hazard's numbers: base, maximum, midpoint and width, and the interval in years."""
    pars = model.params.behaviour.retention
    return (
        pars.base_churn_per_year,
        pars.max_churn_per_year,
        pars.churn_midpoint,
        pars.churn_width,
        model.params.market.purchase_interval_days / 365.0,
    )


def leaving_hazard(model: Market, standing: np.ndarray) -> np.ndarray:
    """Leaving hazard per year of customers whose standing with their provider is ``standing``."""
    base, top, midpoint, width, _ = _hazard_terms(model)
    return leaving_hazards(np.asarray(standing, dtype=np.float64), base, top, midpoint, width)


@numba.njit(cache=True, nogil=True)
def leaving_hazards(
    standing: np.ndarray, base_churn: float, max_churn: float, midpoint: float, width: float
) -> np.ndarray:
    """The module's hazard per year at each standing: ``base_churn + max_churn / (1 + exp(z))``.

    ``z = (standing - midpoint) / width`` held within [-50, 50]; the exponential is the C
    library's (the one :func:`leavers_of_the_day` decides by).
    """
    out = np.empty(standing.size, dtype=np.float64)
    for j in range(standing.size):
        z = min(max((standing[j] - midpoint) / width, -50.0), 50.0)
        out[j] = base_churn + max_churn / (1.0 + np.exp(z))
    return out


def standing(model: Market, customers: np.ndarray, provider: np.ndarray) -> np.ndarray:
    """What keeps ``customers`` with ``provider``: felt attitude + loyalty - pull of the best rival."""
    pars = model.params.behaviour.retention
    c = model.customers
    return standing_of(
        customers,
        provider,
        c.join_day,
        c.attitude,
        c.episode,
        model.day,
        pars.loyalty_per_year,
        pars.loyalty_cap,
        np.float32(pars.alternative_pull),
        len(model.companies) > 1 and pars.alternative_pull > 0,
    )


@numba.njit(cache=True, nogil=True)
def standing_of(
    customers: np.ndarray,
    provider: np.ndarray,
    join_day: np.ndarray,
    attitude: np.ndarray,
    episode: np.ndarray,
    day: int,
    loyalty_per_year: float,
    loyalty_cap: float,
    alternative_pull: np.float32,
    rivals: bool,
) -> np.ndarray:
    """Each customer's standing with its provider (float64), the rule of the module's docstring.

    ``S = felt(provider) + loyalty(t) - alternative_pull x max(0, felt(best-liked rival))``,
    with ``felt = attitude + episode`` (float32), tenure ``t = max(day - join_day, 0)`` days,
    ``loyalty = min(loyalty_cap, loyalty_per_year x t / 365)``; the rival's term (float32, as
    NumPy multiplies a float32 column by a number) only when ``rivals``. The best-liked rival
    is the first company with the highest feeling other than the provider.
    """
    out = np.empty(customers.size, dtype=np.float64)
    companies = attitude.shape[0]
    for j in range(customers.size):
        i = customers[j]
        k = provider[j]
        tenure = max(day - join_day[i], 0)
        loyalty = min(loyalty_cap, loyalty_per_year * tenure / 365.0)
        value = np.float64(attitude[k, i] + episode[k, i]) + loyalty
        if rivals:
            best = -np.inf
            for r in range(companies):
                if r != k:
                    f = attitude[r, i] + episode[r, i]
                    if f > best:
                        best = f
            value -= np.float64(alternative_pull * max(np.float32(best), np.float32(0.0)))
        out[j] = value
    return out


@numba.njit(cache=True, nogil=True)
def best_rivals(
    customers: np.ndarray, provider: np.ndarray, attitude: np.ndarray, episode: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The competitor each customer feels best about, and the feeling for it (a leaver's choice).

    Customer ``i = customers[j]`` feels ``attitude[k, i] + episode[k, i]`` (float32) about
    company ``k``, and ``-inf`` about its provider ``provider[j]``; the best-liked is the first
    company with the highest feeling (as ``np.argmax`` over companies; feelings are finite).

    Returns:
        The companies (int64) and the feelings for them (float32).

    """
    companies = attitude.shape[0]
    best = np.empty(customers.size, dtype=np.int64)
    feeling = np.empty(customers.size, dtype=np.float32)
    for j in range(customers.size):
        i = customers[j]
        top = np.float32(-np.inf)
        pick = 0
        for k in range(companies):
            f = np.float32(-np.inf) if k == provider[j] else attitude[k, i] + episode[k, i]
            if k == 0 or f > top:
                top, pick = f, k
        best[j] = pick
        feeling[j] = top
    return best, feeling


def leave(model: Market, rng: np.random.Generator) -> None:
    """Customers due to buy tomorrow buy again, or leave today; leavers switch to the best-liked competitor, if liked enough."""
    pars = model.params.behaviour.retention
    c = model.customers
    base, top, midpoint, width, interval_years = _hazard_terms(model)
    leavers, old, new = leavers_of_the_day(
        bit_generator_address(rng),
        purchase.due(model, model.day + 1),
        c.provider,
        c.join_day,
        c.attitude,
        c.episode,
        model.day,
        pars.loyalty_per_year,
        pars.loyalty_cap,
        np.float32(pars.alternative_pull),
        len(model.companies) > 1 and pars.alternative_pull > 0,
        base,
        top,
        midpoint,
        width,
        interval_years,
        len(model.companies) > 1,
        np.float32(pars.switch_threshold),
    )
    if leavers.size == 0:
        return
    change_provider(model, leavers, old, new)
    switched = new != PROSPECT
    model.results.count("churned", old)
    model.results.count("acquired", new[switched])
    if model.listens(Event.left, Event.switched_out, Event.switched_in):
        model.log(Event.left, leavers, old, where=~switched)
        model.log(Event.switched_out, leavers, old, where=switched)
        model.log(Event.switched_in, leavers, new, where=switched)


@numba.njit(cache=True, nogil=True)
def leavers_of_the_day(
    address: int,
    due: np.ndarray,
    provider: np.ndarray,
    join_day: np.ndarray,
    attitude: np.ndarray,
    episode: np.ndarray,
    day: int,
    loyalty_per_year: float,
    loyalty_cap: float,
    alternative_pull: np.float32,
    rivals: bool,
    base_churn: float,
    max_churn: float,
    midpoint: float,
    width: float,
    interval_years: float,
    switching: bool,
    switch_threshold: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who leaves today, the provider left and the one joined (the rule of :func:`leave`).

    One uniform ``luck`` per person due (``due``, in order, whatever their state, from the
    stream at ``address``: two policies see the same luck). A customer due leaves when
    ``luck < 1 - exp(-h(S) x interval_years)`` (``-expm1``), with ``S`` its standing
    (:func:`standing_of`) and ``h(S)`` its hazard (:func:`leaving_hazards`). With
    ``switching`` (several companies), a leaver joins its best-liked rival (:func:`best_rivals`)
    if it feels more than ``switch_threshold`` (float32) about it; otherwise no one (-1).
    The exponentials are the C library's, as in every kernel (NumPy's array ``exp`` may
    round the last bit differently); they only decide a comparison with ``luck``.

    Returns:
        Leavers, their providers and their new providers (int8; -1: none), in the order due.

    """
    rng = generator_at(address)
    luck = np.empty(due.size, dtype=np.float64)
    for j in range(due.size):
        luck[j] = rng.random()
    candidates = np.empty(due.size, dtype=np.int64)
    held = np.empty(due.size, dtype=np.int8)
    served = np.empty(due.size, dtype=np.int64)
    m = 0
    for j in range(due.size):
        if provider[due[j]] >= 0:
            candidates[m] = due[j]
            held[m] = provider[due[j]]
            served[m] = j
            m += 1
    standing = standing_of(
        candidates[:m],
        held[:m],
        join_day,
        attitude,
        episode,
        day,
        loyalty_per_year,
        loyalty_cap,
        alternative_pull,
        rivals,
    )
    hazard = leaving_hazards(standing, base_churn, max_churn, midpoint, width)
    go = np.zeros(m, dtype=np.bool_)
    n = 0
    for j in range(m):
        if luck[served[j]] < -np.expm1(-hazard[j] * interval_years):
            go[j] = True
            n += 1
    leavers = np.empty(n, dtype=np.int64)
    old = np.empty(n, dtype=np.int8)
    t = 0
    for j in range(m):
        if go[j]:
            leavers[t] = candidates[j]
            old[t] = held[j]
            t += 1
    new = np.full(n, PROSPECT, dtype=np.int8)
    if switching and n:
        best, feeling = best_rivals(leavers, old, attitude, episode)
        for j in range(n):
            if feeling[j] > switch_threshold:
                new[j] = best[j]
    return leavers, old, new


def adopt(model: Market, rng: np.random.Generator) -> None:
    """Prospects adopt a company by referral, then by advertising and imitation (Bass)."""
    adopt_by_referral(model, rng)
    adopt_by_bass(model, rng)


def adopt_by_referral(model: Market, rng: np.random.Generator) -> None:
    """Prospects who heard a contact praise a company today adopt it, each hearing with its own chance.

    A hearing of strength s converts with ``referral_probability x s``; a prospect who
    is converted by more than one hearing (of one company or several) adopts one of
    them, each equally likely.
    """
    r = model.params.market.referral_probability
    today = model.today
    if r <= 0 or today.praised_prospects.size == 0:
        return
    who, chosen = referral_adopters(
        bit_generator_address(rng),
        r,
        today.praised_prospects,
        today.praised_company,
        today.praise_strength,
        model.customers.provider,
    )
    if who.size == 0:
        return
    change_provider(model, who, None, chosen)
    model.results.count("acquired", chosen)
    model.results.count("referral_acquisitions", chosen)
    model.log(Event.joined, who, chosen)


@numba.njit(cache=True, nogil=True)
def referral_adopters(
    address: int,
    referral_probability: float,
    prospects: np.ndarray,
    companies: np.ndarray,
    strengths: np.ndarray,
    provider: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Who adopts by referral today, and which company (the rule of :func:`adopt_by_referral`).

    Hearing ``i`` (prospect ``prospects[i]`` praised ``companies[i]`` with strength
    ``strengths[i]``) converts when its uniform ``u[i]`` (one per hearing, in order, from the
    stream at ``address``) is below ``chance[i] = referral_probability x strengths[i]``
    (float64). A prospect converted by several hearings adopts the one with the smallest
    ``u / chance`` (uniform on [0, 1) given that it converts; on a tie, the earlier hearing),
    unless it is no longer a prospect (``provider != -1``).

    Returns:
        The adopters in increasing order, and their companies (int8).

    """
    rng = generator_at(address)
    n = prospects.size
    u = np.empty(n, dtype=np.float64)
    chance = np.empty(n, dtype=np.float64)
    for i in range(n):
        u[i] = rng.random()
    converts = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        chance[i] = referral_probability * np.float64(strengths[i])
        if u[i] < chance[i]:
            converts[m] = i
            m += 1
    # Sort the converting hearings by prospect, then by their order (keys are distinct).
    keys = np.empty(m, dtype=np.int64)
    for j in range(m):
        keys[j] = prospects[converts[j]] * m + j
    sort_in_place(keys)
    who = np.empty(m, dtype=np.int64)
    chosen = np.empty(m, dtype=np.int8)
    a = 0
    j = 0
    while j < m:
        person = keys[j] // m
        best = converts[keys[j] % m]
        j += 1
        while j < m and keys[j] // m == person:
            i = converts[keys[j] % m]
            if u[i] / chance[i] < u[best] / chance[best]:
                best = i
            j += 1
        if provider[person] == PROSPECT:
            who[a] = person
            chosen[a] = companies[best]
            a += 1
    return who[:a], chosen[:a]


def init(model: Market) -> None:
    """The Bass rates of a run without promotions, worked out once (they are the same every day)."""
    model.bass_rates_fixed = not any(co.params.promotions for co in model.companies)
    model.bass_rates = bass_rates(model, 0) if model.bass_rates_fixed else None


def bass_rates(model: Market, day: int) -> tuple[np.ndarray, float, float, float] | None:
    """Bass's rates on ``day``: ``p`` per company, ``q``, ``s`` and the bound on the daily chance.

    ``None`` when nobody can adopt (the bound on the hazard is not positive).
    """
    market = model.params.market
    weights = model.advertising_weights
    total_weight = weights.sum()
    p = market.advertising_rate / 365.0 * (weights / total_weight if total_weight > 0 else weights)
    if any(co.params.promotions for co in model.companies):
        p = p * np.array([co.advertising_lift(day) for co in model.companies])
    q = market.imitation_rate / 365.0
    s = market.choice_sensitivity
    h_bound = (p.sum() + q) * math.exp(
        s
    )  # choice attitudes are at most 1; the f_k add to at most 1
    if h_bound <= 0:
        return None
    p_bound = -math.expm1(-h_bound)
    return p, q, s, p_bound


def adopt_by_bass(model: Market, rng: np.random.Generator) -> None:
    """Prospects adopt a company by advertising and imitation (Bass)."""
    c = model.customers
    rates = model.bass_rates if model.bass_rates_fixed else bass_rates(model, model.day)
    if rates is None:
        return
    p, q, s, p_bound = rates
    mixed = c.neighbor_customers is None
    who, chosen, by_advertising = bass_adopters(
        bit_generator_address(rng),
        c.n,
        p_bound,
        c.provider,
        c.attitude,
        c.episode,
        c.attitude[:, :0] if mixed else c.neighbor_customers,
        model.network.degree,
        model.customer_counts / c.n,
        mixed,
        p,
        q,
        np.float32(s),
    )
    if who.size == 0:
        return
    change_provider(model, who, None, chosen)
    model.results.count("acquired", chosen)
    model.results.count("advertising_acquisitions", chosen[by_advertising])
    model.results.count("imitation_acquisitions", chosen[~by_advertising])
    model.log(Event.joined, who, chosen)


@numba.njit(cache=True, nogil=True)
def bass_adopters(
    address: int,
    n: int,
    p_bound: float,
    provider: np.ndarray,
    attitude: np.ndarray,
    episode: np.ndarray,
    neighbor_customers: np.ndarray,
    degree: np.ndarray,
    market_share: np.ndarray,
    mixed: bool,
    p: np.ndarray,
    q: float,
    sensitivity: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The day's adoptions by advertising and imitation (the module's Bass rule, by thinning).

    From the stream at ``address``: candidates are everyone drawn with the bound ``p_bound``
    (:func:`cxsim.rng.bernoulli_started`, its batch of exponentials drawn to the end, as
    :func:`cxsim.rng.bernoulli_indices` draws it); the prospects among them (:func:`bass_prospects`)
    like company k ``exp(sensitivity x choice attitude)`` (float32, as NumPy multiplies a
    float32 column by a number) and have cumulative hazards :func:`bass_hazards`. Then one
    uniform ``u_adopt`` per prospect, and after them one ``u_choice`` each: a prospect adopts
    when ``u_adopt x p_bound < 1 - exp(-total hazard)`` (``-expm1``) and picks by
    :func:`bass_choices`. The exponentials are the C library's (NumPy's array ``exp`` may round
    the last bit differently); they only decide comparisons with the uniforms.

    Returns:
        Adopters, their companies (int8), and whether each came by advertising.

    """
    rng = generator_at(address)
    drawn, owed = bernoulli_started(rng, n, p_bound)
    for _ in range(owed):  # the uniforms below come after the whole batch
        rng.standard_exponential()
    prospects, f, choice = bass_prospects(
        drawn, provider, attitude, episode, neighbor_customers, degree, market_share, mixed
    )
    m = prospects.size
    companies = attitude.shape[0]
    if m == 0:
        return prospects, np.empty(0, dtype=np.int8), np.empty(0, dtype=np.bool_)
    # What a prospect feels about each company, capped at 1 for the choice (attitudes are not
    # bounded; a prospect who adores a company is not made more than e^s times likelier to pick it).
    liking = np.empty((companies, m), dtype=np.float32)
    for k in range(companies):
        for j in range(m):
            liking[k, j] = np.exp(sensitivity * choice[k, j])
    cumulative = bass_hazards(p, q, f, liking)
    u = np.empty(2 * m, dtype=np.float64)
    for j in range(2 * m):
        u[j] = rng.random()
    adopts = np.empty(m, dtype=np.bool_)
    for j in range(m):
        adopts[j] = u[j] * p_bound < -np.expm1(-cumulative[companies - 1, j])
    return bass_choices(prospects, adopts, u[m:], cumulative, p, liking)


@numba.njit(cache=True, nogil=True)
def bass_prospects(
    drawn: np.ndarray,
    provider: np.ndarray,
    attitude: np.ndarray,
    episode: np.ndarray,
    neighbor_customers: np.ndarray,
    degree: np.ndarray,
    market_share: np.ndarray,
    mixed: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The prospects among ``drawn``, with their contacts' custom and their choice attitudes.

    ``f[k, j]`` is the share of prospect ``j``'s contacts who are company ``k``'s customers:
    ``neighbor_customers[k, i] / max(degree[i], 1)`` for prospect ``i`` (float64),
    or ``market_share[k]`` on a fully mixed network (``mixed``); the choice attitude is
    ``min(attitude[k, i] + episode[k, i], 1)`` (float32).
    """
    companies = attitude.shape[0]
    prospects = np.empty(drawn.size, dtype=np.int64)
    m = 0
    for i in drawn:
        if provider[i] == PROSPECT:
            prospects[m] = i
            m += 1
    prospects = prospects[:m]
    f = np.empty((companies, m), dtype=np.float64)
    choice = np.empty((companies, m), dtype=np.float32)
    for j in range(m):
        i = prospects[j]
        contacts = np.float64(max(degree[i], 1))
        for k in range(companies):
            f[k, j] = market_share[k] if mixed else neighbor_customers[k, i] / contacts
            choice[k, j] = min(attitude[k, i] + episode[k, i], np.float32(1.0))
    return prospects, f, choice


@numba.njit(cache=True, nogil=True)
def bass_hazards(p: np.ndarray, q: float, f: np.ndarray, liking: np.ndarray) -> np.ndarray:
    """Cumulative hazards over the companies: row k holds ``sum_{r <= k} (p_r + q f_r) x liking_r``.

    Summed in company order, in float64, per prospect (as ``np.cumsum(axis=0)``).
    """
    out = np.empty(f.shape, dtype=np.float64)
    for j in range(f.shape[1]):
        running = 0.0
        for k in range(f.shape[0]):
            h = (p[k] + q * f[k, j]) * np.float64(liking[k, j])
            running = h if k == 0 else running + h
            out[k, j] = running
    return out


@numba.njit(cache=True, nogil=True)
def bass_choices(
    prospects: np.ndarray,
    adopts: np.ndarray,
    u_choice: np.ndarray,
    cumulative: np.ndarray,
    p: np.ndarray,
    liking: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which company each adopter picks, and through which channel.

    Adopter ``j`` picks at ``pick = u_choice[j] x total hazard`` the first company whose
    cumulative hazard is not below it (the last one at most); within that company's part of
    the hazard its advertising part ``p_k x liking`` comes first: the channel is advertising
    when ``pick - cumulative hazard before k`` is below it, else imitation.

    Returns:
        Adopters, their companies (int8), and whether each came by advertising.

    """
    companies = cumulative.shape[0]
    n = 0
    for j in range(adopts.size):
        if adopts[j]:
            n += 1
    who = np.empty(n, dtype=np.int64)
    chosen = np.empty(n, dtype=np.int8)
    by_advertising = np.empty(n, dtype=np.bool_)
    a = 0
    for j in range(adopts.size):
        if not adopts[j]:
            continue
        pick = u_choice[j] * cumulative[companies - 1, j]
        below = 0
        for k in range(companies):
            if cumulative[k, j] < pick:
                below += 1
        k = min(below, companies - 1)
        before = cumulative[k - 1, j] if k > 0 else 0.0
        who[a] = prospects[j]
        chosen[a] = k
        by_advertising[a] = pick - before < p[k] * np.float64(liking[k, j])
        a += 1
    return who, chosen, by_advertising


def change_provider(
    model: Market, who: np.ndarray, old: np.ndarray | None, new: np.ndarray
) -> None:
    """Move ``who`` from ``old`` to ``new`` providers (-1 = none; ``old=None``: all were prospects).

    The one place providers change. ``who`` names each person once.
    """
    c = model.customers
    move_customers(
        who,
        _NO_PROVIDERS if old is None else old,
        new,
        model.day,
        np.float32(model.params.behaviour.attitude.join_increment),
        c.provider,
        c.issue,
        c.join_day,
        c.customer_of,
        c.attitude,
        model.customer_counts,
    )
    model.update_neighbor_counts(who, old, new)


_NO_PROVIDERS = np.empty(0, dtype=np.int8)


@numba.njit(cache=True, nogil=True)
def move_customers(
    who: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    day: int,
    join_increment: np.float32,
    provider: np.ndarray,
    issue: np.ndarray,
    join_day: np.ndarray,
    customer_of: np.ndarray,
    attitude: np.ndarray,
    customer_counts: np.ndarray,
) -> None:
    """The customer columns of :func:`change_provider`, in place (``who`` distinct).

    Each person ``who[j]`` gets provider ``new[j]`` and no open issue. One who joins a
    company (``new[j] != -1``) starts its tenure today (``join_day``), is remembered as
    having been its customer (its bit of ``customer_of``), and adds ``join_increment`` to
    its attitude toward it (float32: choosing a company adds to what one felt about it).
    ``customer_counts`` loses ``old[j]`` (unless -1; ``old`` empty: all were prospects) and
    gains ``new[j]`` (unless -1).
    """
    for j in range(who.size):
        person, company = who[j], new[j]
        provider[person] = company
        issue[person] = ISSUE_NONE
        if old.size and old[j] != PROSPECT:
            customer_counts[old[j]] -= 1
        if company != PROSPECT:
            join_day[person] = day
            customer_of[person] |= np.uint16(1) << np.uint16(company)
            attitude[company, person] += join_increment
            customer_counts[company] += 1
