"""Emergent figures against their parameters, with tolerances derived from the sample size."""

import numpy as np
from scipy import stats

from .conftest import make_market, one_company

Z = 4.0  # tolerance in standard errors; fixed seeds make these deterministic, 4 sigma keeps them honest


def test_complaints_per_problem_and_serious_share_match_parameters():
    m = make_market(
        20_000,
        days=120,
        quiet=True,
        companies=one_company({"preset": "fix", "crm_touches_per_month": 0.0, "reachability": 1.0}),
        **{
            "market.initial_adoption": 1.0,
            "behaviour.voice.learned_silence": 1.0,
            "companies.0.delivered_quality": 0.8,
            "companies.0.promised_quality": 0.8,
        },
    )
    m.run()
    df = m.results_frame()
    problems, serious, complaints = (
        df[c].sum() for c in ("problems", "serious_problems", "complaints")
    )
    voice = m.params.behaviour.voice
    s = m.params.behaviour.problems.serious_share
    expected = voice.minor * (1 - s) + voice.serious * s
    assert abs(complaints / problems - expected) < Z * np.sqrt(expected * (1 - expected) / problems)
    assert abs(serious / problems - s) < Z * np.sqrt(s * (1 - s) / problems)
    # The default voice parameters give the TARP iceberg: about 1 complaint per 26 problems.
    assert abs(1 / expected - 26) < 1.0


def listener_run(**overrides):
    m = make_market(
        20_000,
        days=60,
        quiet=True,
        **{
            "market.initial_adoption": 1.0,
            "behaviour.word_of_mouth.retell_probability": 0.0,
            "companies.0.delivered_quality": 0.8,
            "companies.1.delivered_quality": 0.8,
            # Weekly follow-ups turn many problems into fixes and refunds: plenty of happy tellers.
            "companies.1.policy.proactive_follow_ups": True,
            "companies.1.policy.crm_touches_per_month": 4.0,
            **overrides,
        },
    )
    m.run()
    return m.results_frame().sum(numeric_only=True)


def test_listeners_per_teller_match_audience_on_a_fully_mixed_network():
    totals = listener_run(**{"network.kind": "fully_mixed"})
    for sign, mean in (("negative", 9.5), ("positive", 4.5)):
        tellers = totals[f"{sign}_tellers"]
        assert tellers > 1000
        per_teller = totals[f"wom_{sign}"] / tellers
        assert abs(per_teller - mean) < Z * np.sqrt(mean / tellers), sign


def test_listeners_are_capped_by_degree():
    # A ring lattice: everyone has exactly 10 contacts, so a teller reaches min(Poisson(mean), 10).
    totals = listener_run(
        **{"network.kind": "small_world", "network.rewiring": 0.0, "network.mean_degree": 10}
    )
    for sign, mean in (("negative", 9.5), ("positive", 4.5)):
        k = np.arange(0, 200)
        capped = np.minimum(k, 10)
        pmf = stats.poisson.pmf(k, mean)
        expected = (capped * pmf).sum()
        sd = np.sqrt((capped**2 * pmf).sum() - expected**2)
        tellers = totals[f"{sign}_tellers"]
        assert abs(totals[f"wom_{sign}"] / tellers - expected) < Z * sd / np.sqrt(tellers), sign


def test_negative_experiences_reach_more_listeners():
    totals = listener_run(**{"network.kind": "fully_mixed"})
    assert (
        totals["wom_negative"] / totals["negative_tellers"]
        > totals["wom_positive"] / totals["positive_tellers"]
    )


def bass_closed_form(t, p, q):
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


def test_adoption_follows_bass_closed_form_on_a_fully_mixed_market():
    n, days = 200_000, 1095
    p_year, q_year = 0.2, 2.0
    m = make_market(
        n,
        days=days,
        companies=one_company("fix"),
        **{
            "network.kind": "fully_mixed",
            "market.initial_adoption": 0.0,
            "market.advertising_rate": p_year,
            "market.imitation_rate": q_year,
            # Advertising and imitation only: stories do not refer (nor steer the choice).
            "market.referral_probability": 0.0,
            "market.choice_sensitivity": 0.0,
            "behaviour.retention.max_churn_per_year": 0.0,
            "behaviour.retention.base_churn_per_year": 0.0,
        },
    )
    m.run()
    simulated = m.results_frame()["customers"].to_numpy() / n
    t = np.arange(days + 1)
    p, q = p_year / 365, q_year / 365
    closed = bass_closed_form(t, p, q)
    # The engine steps in whole days: F_d = F_{d-1} + (1 - F_{d-1})(1 - exp(-(p + q F_{d-1}))).
    # Its distance to the continuous curve is deterministic and is allowed for exactly.
    discrete = np.zeros(days + 1)
    for d in range(1, days + 1):
        discrete[d] = discrete[d - 1] + (1 - discrete[d - 1]) * (
            1 - np.exp(-(p + q * discrete[d - 1]))
        )
    allowance = np.abs(discrete - closed)
    sampling = Z * np.sqrt(closed * (1 - closed) / n) + 1 / n
    assert np.all(np.abs(simulated - closed) <= allowance + sampling)
    assert simulated[-1] > 0.9  # the curve ran its course
