"""Word of mouth against its rules: how far stories carry, and the prospects praise wins.

Tolerances are derived from the sample size: the variance of the hearings one
first-hand story causes follows from the branching process the rules define;
adoptions are binomial.
"""

from __future__ import annotations

import numpy as np

from cxsim import Market
from cxsim.customers import PROSPECT
from cxsim.params import resolve
from cxsim.reach import WordOfMouthReach, measure_reach, retelling_generations
from cxsim.stages import retention, word_of_mouth

from .conftest import begin_day, make_market

Z = 4.0  # tolerance in standard errors (fixed seeds make the tests deterministic)

#: A fully mixed market of 20,000 people, all customers, with many problems to talk about.
MIXED = {
    "network.kind": "fully_mixed",
    "market.initial_adoption": 1.0,
    "companies.0.delivered_quality": 0.8,
    "companies.1.delivered_quality": 0.8,
}
#: Weekly proactive follow-ups turn many problems into fixes: plenty of happy first-hand tellers.
FOLLOW_UPS = {
    "companies.1.policy.proactive_follow_ups": True,
    "companies.1.policy.crm_touches_per_month": 4.0,
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
        **{"market.customers": 20_000, "market.days": days, "market.seed": 1, **MIXED, **overrides},
        observers=[reach],
    ).run()
    return reach


def test_reach_per_first_hand_story_is_the_branching_sum_on_a_fully_mixed_market():
    reach = reach_run(**FOLLOW_UPS)
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
    market = Market(**{"market.customers": 20_000, "market.days": 120}, seed=1, observers=[reach])
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
    totals = measure_reach(resolve(None, {"market.customers": 3000, "market.days": 60}))
    assert list(totals.index) == ["negative", "positive", "negative : positive"]
    assert (totals.loc[["negative", "positive"], "first_hand_stories"] > 0).all()


# --------------------------------------------------------------------------- referral


def praise(model: Market, who: np.ndarray, company: np.ndarray, strength: np.ndarray) -> None:
    """Let prospects ``who`` have heard a contact praise ``company`` today, at ``strength``."""
    today = model.today
    today.praised_prospects = np.asarray(who, dtype=np.int64)
    today.praised_company = np.asarray(company, dtype=np.int8)
    today.praise_strength = np.asarray(strength, dtype=np.float32)


def prospects_market(n: int, referral: float) -> Market:
    model = make_market(
        n,
        days=5,
        quiet=True,
        **{"market.initial_adoption": 0.0, "market.referral_probability": referral},
    )
    begin_day(model, 1)
    return model


def test_a_prospect_who_hears_praise_adopts_with_the_referral_probability():
    n, r = 40_000, 0.2
    model = prospects_market(n, r)
    first_hand, retold = np.arange(n // 2), np.arange(n // 2, n)
    strength = np.where(np.arange(n) < n // 2, 1.0, 0.5)  # a retold story has half the strength
    praise(model, np.arange(n), np.zeros(n), strength)
    retention.adopt_by_referral(model, model.streams("retention", 1))
    joined = model.customers.provider != PROSPECT
    for who, chance in ((first_hand, r), (retold, r / 2)):
        rate = joined[who].mean()
        assert abs(rate - chance) < Z * np.sqrt(chance * (1 - chance) / who.size), chance
    assert (model.customers.provider[joined] == 0).all()
    assert model.results.today("referral_acquisitions")[0] == joined.sum()
    assert model.results.today("acquired")[0] == joined.sum()


def test_a_prospect_converted_by_several_hearings_adopts_one_of_them_at_random():
    # Certain conversion; every prospect heard company 0 praised twice and company 1 once.
    n = 30_000
    model = prospects_market(n, 1.0)
    who = np.repeat(np.arange(n), 3)
    company = np.tile([0, 1, 0], n)
    praise(model, who, company, np.ones(who.size))
    retention.adopt_by_referral(model, model.streams("retention", 1))
    provider = model.customers.provider
    assert (provider != PROSPECT).all()
    assert model.results.today("referral_acquisitions").sum() == n  # one adoption each
    share = (provider == 0).mean()
    assert abs(share - 2 / 3) < Z * np.sqrt(2 / 9 / n)


def test_only_prospects_who_hear_a_contact_praise_a_company_are_referral_candidates():
    model = make_market(
        4000,
        days=5,
        quiet=True,
        **{
            "network.kind": "fully_mixed",
            "market.initial_adoption": 0.5,
            "market.referral_probability": 0.1,
        },
    )
    begin_day(model, 1)
    rng = np.random.default_rng(7)
    tellers = np.flatnonzero(model.customers.provider != PROSPECT)[:400]
    tellings = word_of_mouth.Tellings(
        teller=tellers,
        company=model.customers.provider[tellers],
        sign=np.where(np.arange(tellers.size) % 2 == 0, 1, -1).astype(np.int8),
        strength=np.where(np.arange(tellers.size) % 4 < 2, 1.0, 0.5).astype(np.float32),
        generation=(np.arange(tellers.size) % 4 >= 2).astype(np.int32),
        story=np.arange(tellers.size, dtype=np.int64),
    )
    provider_before = model.customers.provider.copy()
    no_experiences = (
        np.empty(0, np.int8),
        np.empty(0, np.int64),
        np.empty(0, np.int8),
        np.empty(0, np.float32),
    )
    first_hand, _, told, _, heard, listeners = word_of_mouth.speak(
        model, rng, no_experiences, tellings, 0
    )
    assert first_hand == 0
    assert np.array_equal(told.teller, tellings.teller)
    expected = (tellings.sign[heard] > 0) & (provider_before[listeners] == PROSPECT)
    assert 0 < expected.sum() < listeners.size
    today = model.today
    np.testing.assert_array_equal(today.praised_prospects, listeners[expected])
    np.testing.assert_array_equal(today.praised_company, tellings.company[heard][expected])
    np.testing.assert_array_equal(today.praise_strength, tellings.strength[heard][expected])


def test_each_adoption_is_counted_under_the_channel_that_brought_it():
    def totals(**overrides):
        return make_market(3000, days=365, **overrides).run().summary().sum(numeric_only=True)

    both = totals()
    channels = ("advertising_acquisitions", "imitation_acquisitions", "referral_acquisitions")
    assert all(both[c] > 0 for c in channels)
    assert sum(both[c] for c in channels) <= both["acquired"]  # the rest switched in
    assert totals(**{"market.referral_probability": 0.0})["referral_acquisitions"] == 0
    assert totals(**{"market.imitation_rate": 0.0})["imitation_acquisitions"] == 0
    assert totals(**{"market.advertising_rate": 0.0})["advertising_acquisitions"] == 0


def test_advertising_and_imitation_share_bass_adoptions_in_proportion_to_their_hazards():
    # One company, fully mixed, attitudes ignored, nobody leaving, referral off: on day d a
    # Bass adopter came through advertising with probability p / (p + q F), F the share of
    # customers when the day's adoption was drawn.
    n, days, p_year, q_year = 50_000, 365, 0.2, 2.0
    model = make_market(
        n,
        days=days,
        quiet=True,
        companies=[{"name": "solo", "policy": "fix"}],
        **{
            "network.kind": "fully_mixed",
            "market.initial_adoption": 0.0,
            "market.advertising_rate": p_year,
            "market.imitation_rate": q_year,
            "market.choice_sensitivity": 0.0,
        },
    )
    frame = model.run().results_frame()
    share = frame["customers"].to_numpy()[:-1] / n
    new = (
        frame["imitation_acquisitions"].to_numpy()[1:]
        + frame["advertising_acquisitions"].to_numpy()[1:]
    )
    assert (new == frame["acquired"].to_numpy()[1:]).all()
    chance = p_year / (p_year + q_year * share)
    expected = (new * chance).sum()
    sd = np.sqrt((new * chance * (1 - chance)).sum())
    assert abs(frame["advertising_acquisitions"].sum() - expected) < Z * sd
