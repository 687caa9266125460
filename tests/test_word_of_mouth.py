"""Word of mouth's reach, measured by the reach observer, against its rules.

Tolerances are derived from the sample size: the variance of the hearings one
first-hand story causes follows from the branching process the rules define.
"""

from __future__ import annotations

import numpy as np

from cxsim import Market
from cxsim.reach import WordOfMouthReach, measure_reach, retelling_generations

from .conftest import make_market

Z = 4.0  # tolerance in standard errors (fixed seeds make the tests deterministic)

#: A fully mixed market of 20,000 people, all customers, with many problems to talk about.
MIXED = {
    "network.kind": "fully_mixed",
    "market.initial_adoption": 1.0,
    "companies.0.delivered_quality": 0.8,
    "companies.1.delivered_quality": 0.8,
}


def branching_reach(
    first_audience: float, retell_probability: float, retell_audience: float, generations: int
) -> tuple[float, float]:
    """Mean and variance of the hearings one first-hand story causes on a fully mixed market.

    Each hearing is passed on with ``retell_probability`` to Poisson(``retell_audience``)
    people, for ``generations`` generations of retelling; the first-hand teller reaches
    Poisson(``first_audience``) people.
    """
    offspring_mean = retell_probability * retell_audience
    offspring_var = retell_probability * (retell_audience + retell_audience**2) - offspring_mean**2
    below_mean, below_var = 1.0, 0.0  # a hearing and what it causes below it
    for _ in range(generations):
        below_mean, below_var = (
            1.0 + offspring_mean * below_mean,
            offspring_mean * below_var + offspring_var * below_mean**2,
        )
    return first_audience * below_mean, first_audience * (below_var + below_mean**2)


def reach_run(days: int = 90, **overrides) -> WordOfMouthReach:
    reach = WordOfMouthReach()
    Market(
        **{"market.customers": 20_000, "market.days": days, **MIXED, **overrides},
        observers=[reach],
    ).run()
    return reach


def test_reach_per_first_hand_story_is_the_branching_sum_on_a_fully_mixed_market():
    reach = reach_run()
    totals = reach.totals()
    wom = Market(**MIXED).params.behaviour.word_of_mouth
    generations = retelling_generations(wom)
    assert generations == 3  # strengths 1/2, 1/4, 1/8 are retold; 1/16 is below min_strength
    for sign, audience in (
        ("negative", wom.negative_audience),
        ("positive", wom.positive_audience),
    ):
        mean, var = branching_reach(
            audience, wom.retell_probability, wom.retell_audience, generations
        )
        stories = totals.loc[sign, "first_hand_stories"]
        assert stories > 1000
        measured = totals.loc[sign, "reach_per_first_hand_story"]
        assert abs(measured - mean) < Z * np.sqrt(var / stories), (sign, measured, mean)


def test_retellings_reach_fewer_people_than_first_hand_tellings():
    generations = reach_run().generations()
    wom = Market(**MIXED).params.behaviour.word_of_mouth
    first_hand = generations[generations.generation == 0].set_index("sign")
    retold = generations[generations.generation > 0]
    tellings, hearings = retold.tellings.sum(), retold.hearings.sum()
    assert tellings > 1000
    m = wom.retell_audience
    assert abs(hearings / tellings - m) < Z * np.sqrt(m / tellings)
    for sign in ("negative", "positive"):
        assert hearings / tellings < first_hand.loc[sign, "hearings_per_telling"], sign


def test_one_storys_reach_stays_near_its_first_hand_audience_on_the_default_small_world():
    # Capped by degree, retellers reach at most Poisson(retell_audience) people, so reach is
    # at most the first-hand listeners x the branching sum with uncapped retellings.
    reach = WordOfMouthReach()
    market = Market(**{"market.customers": 20_000, "market.days": 120}, observers=[reach])
    market.run()
    wom = market.params.behaviour.word_of_mouth
    generations = retelling_generations(wom)
    totals = reach.totals()
    for sign in ("negative", "positive"):
        listeners = totals.loc[sign, "listeners_per_first_hand_story"]
        reached = totals.loc[sign, "reach_per_first_hand_story"]
        # Poisson first-hand audiences vary more than capped ones: a generous variance.
        most, var = branching_reach(
            listeners, wom.retell_probability, wom.retell_audience, generations
        )
        stories = totals.loc[sign, "first_hand_stories"]
        assert listeners < reached < most + Z * np.sqrt(var / stories), sign


def test_listeners_per_first_hand_story_read_back_the_audiences_while_stories_are_retold():
    totals = reach_run().totals()
    wom = Market(**MIXED).params.behaviour.word_of_mouth
    assert wom.retell_probability > 0
    for sign, audience in (
        ("negative", wom.negative_audience),
        ("positive", wom.positive_audience),
    ):
        stories = totals.loc[sign, "first_hand_stories"]
        listeners = totals.loc[sign, "listeners_per_first_hand_story"]
        assert abs(listeners - audience) < Z * np.sqrt(audience / stories), sign


def test_reach_counts_only_stories_that_have_finished_spreading():
    # On a short run, stories told in the last days are cut short by its end: counting them
    # would bias reach low by several standard errors; leaving them out does not.
    days = 20
    # Retellers told as many people as first-hand tellers (the old, near-critical rule):
    # long cascades, so that cutting them short shows.
    reach = reach_run(days=days, **{"behaviour.word_of_mouth.retell_audience": 9.5})
    pending = reach._market.backlog.retellings
    assert len(pending) > 0  # stories are still being retold on the last day
    window = reach._window()
    assert window.stop == int((days + 1 - pending.generation.astype(int)).min())
    wom = reach._market.params.behaviour.word_of_mouth
    generations = retelling_generations(wom)
    mean, var = branching_reach(
        wom.negative_audience, wom.retell_probability, wom.retell_audience, generations
    )
    negative = 0
    windowed = reach.totals().loc["negative"]
    assert abs(windowed.reach_per_first_hand_story - mean) < Z * np.sqrt(
        var / windowed.first_hand_stories
    )
    all_stories = reach.stories[:, negative].sum()
    naive = reach.hearings[:, negative].sum() / all_stories
    assert mean - naive > Z * np.sqrt(var / all_stories)


def test_a_person_who_hears_a_story_twice_is_reached_once():
    # On a ring lattice a retold story comes back to the teller's other contacts.
    reach = WordOfMouthReach()
    make_market(
        5000,
        days=60,
        quiet=True,
        observers=[reach],
        **{
            "network.kind": "small_world",
            "network.rewiring": 0.0,
            "market.initial_adoption": 1.0,
            "behaviour.word_of_mouth.retell_probability": 1.0,
            "companies.0.delivered_quality": 0.8,
            "companies.1.delivered_quality": 0.8,
        },
    ).run()
    totals = reach.totals()
    for sign in ("negative", "positive"):
        people = totals.loc[sign, "people_reached_per_first_hand_story"]
        hearings = totals.loc[sign, "reach_per_first_hand_story"]
        listeners = totals.loc[sign, "listeners_per_first_hand_story"]
        assert listeners < people < hearings, sign


def test_measure_reach_runs_a_market_and_reports_reach_per_sign():
    totals = measure_reach(Market(**{"market.customers": 3000, "market.days": 60}).params)
    assert list(totals.index) == ["negative", "positive", "negative : positive"]
    assert (totals.loc[["negative", "positive"], "first_hand_stories"] > 0).all()
