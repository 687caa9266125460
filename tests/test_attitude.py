"""The behavioural core: two-time-scale attitudes, loss size, leaving at the occasion, alternatives, joining."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cxsim.day import Today
from cxsim.events import Event
from cxsim.stages import attitude, purchase, retention

from .conftest import make_market, one_company


def lone_shop(customers: int = 200, **overrides: object):
    """A market of one company whose customers are all served and nobody else moves."""
    return make_market(
        customers,
        quiet=True,
        companies=one_company("fix"),
        **{"market.initial_adoption": 1.0, **overrides},
    )


def test_an_experience_moves_the_episode_fully_and_the_lasting_attitude_by_its_share() -> None:
    m = lone_shop(
        **{"behaviour.attitude.lasting_share": 0.4, "behaviour.attitude.loss_aversion": 2.0}
    )
    c = m.customers
    before = c.attitude[0, :2].copy()
    events = np.array([Event.problem_minor, Event.fixed], dtype=np.int8)
    attitude.apply(m, events, np.arange(2), np.zeros(2, np.int8), np.ones(2, np.float32))
    pars = m.params.behaviour.attitude
    assert c.episode[0, 0] == pytest.approx(pars.problem_minor, rel=1e-5)
    assert c.attitude[0, 0] - before[0] == pytest.approx(0.4 * pars.problem_minor, rel=1e-5)
    # A good experience leaves a shallower lasting mark than an equally bad one (loss aversion).
    assert c.episode[0, 1] == pytest.approx(pars.fixed, rel=1e-5)
    assert c.attitude[0, 1] - before[1] == pytest.approx(0.4 / 2.0 * pars.fixed, rel=1e-5)


def test_hearsay_moves_only_the_lasting_attitude() -> None:
    m = lone_shop()
    c = m.customers
    before = c.attitude[0, 0]
    events = np.array([Event.heard_negative], dtype=np.int8)
    attitude.apply(m, events, np.array([0]), np.zeros(1, np.int8), np.ones(1, np.float32))
    assert c.episode[0, 0] == 0.0
    assert c.attitude[0, 0] - before == pytest.approx(m.effects[Event.heard_negative], rel=1e-5)


def test_the_episode_fades_over_its_memory_and_the_lasting_attitude_over_its_own() -> None:
    m = lone_shop(
        **{"behaviour.attitude.episode_memory_days": 30.0, "behaviour.attitude.memory_days": 365.0}
    )
    c = m.customers
    c.episode[0, :] = 1.0
    c.attitude[0, :] = 1.0
    m.today = Today()  # a day without experiences
    attitude.step(m)
    assert c.episode[0, 0] == pytest.approx(math.exp(-1 / 30), rel=1e-6)
    assert c.attitude[0, 0] == pytest.approx(math.exp(-1 / 365), rel=1e-6)


def test_nothing_is_clipped_so_different_outcomes_stay_different() -> None:
    m = lone_shop()
    bad = np.array([Event.problem_serious] * 3, dtype=np.int8)
    for count in (1, 3):
        attitude.apply(
            m,
            bad[:count],
            np.full(count, count, np.int64),
            np.zeros(count, np.int8),
            np.ones(count, np.float32),
        )
    felt = attitude.felt(m, 0, np.array([1, 3]))
    assert felt[1] < felt[0]
    assert felt[1] < -1.0  # below the old floor of -1


def test_every_experience_of_a_serious_problem_is_scaled_by_the_loss() -> None:
    m = lone_shop(**{"behaviour.attitude.serious_loss_scale": 3.0})
    pars = m.params.behaviour.attitude
    assert m.effects[Event.problem_serious] == pytest.approx(3.0 * pars.problem_minor)
    c = m.customers
    c.issue_serious[:2] = [True, False]
    events = np.array([Event.fixed, Event.fixed, Event.satisfied], dtype=np.int8)
    customers = np.array([0, 1, 0])
    strengths = np.ones(3, np.float32)
    attitude.scale_by_loss(m, events, customers, strengths)
    # The fix of the serious problem counts three times; a plain purchase is not about a problem.
    assert strengths.tolist() == [3.0, 1.0, 1.0]


def test_leaving_is_decided_only_at_the_next_purchase_occasion() -> None:
    m = lone_shop(
        2000,
        **{
            "behaviour.retention.max_churn_per_year": 365.0,
            "behaviour.retention.churn_midpoint": 5.0,  # everyone's standing is far below it
            "market.purchase_interval_days": 30.0,
        },
    )
    c = m.customers
    before = c.provider.copy()
    due_tomorrow = purchase.due(m, m.day + 2)  # the retention stage of day 1 decides for day 2
    m.step()
    left = np.flatnonzero((before >= 0) & (c.provider < 0))
    assert left.size > 0
    assert np.isin(left, due_tomorrow).all()


def test_a_customer_at_a_constant_standing_leaves_at_the_hazard_per_year() -> None:
    # With a flat hazard (a huge width), the chance of leaving at an occasion is 1 - exp(-h x interval).
    m = lone_shop(
        20_000,
        **{
            "behaviour.retention.churn_width": 10.0,
            "behaviour.retention.churn_midpoint": 0.0,
            "behaviour.retention.base_churn_per_year": 0.0,
            "behaviour.retention.max_churn_per_year": 2.0,
            "behaviour.retention.loyalty_per_year": 0.0,
        },
    )
    c = m.customers
    c.attitude[:] = 0.0
    customers = np.flatnonzero(c.provider >= 0)
    h = float(retention.leaving_hazard(m, np.zeros(1))[0])
    assert h == pytest.approx(1.0, rel=1e-6)  # half the ceiling at the midpoint
    due = purchase.due(m, m.day + 1)
    due = due[c.provider[due] >= 0]
    expected = -math.expm1(-h * m.params.market.purchase_interval_days / 365.0)
    rng = m.streams("retention", m.day)
    retention.leave(m, rng)
    left = np.count_nonzero(c.provider[due] < 0)
    share = left / due.size
    se = math.sqrt(expected * (1 - expected) / due.size)
    assert abs(share - expected) < 4 * se, (share, expected)
    assert customers.size > due.size


def test_praise_of_a_competitor_pulls_customers_away() -> None:
    m = make_market(
        100,
        quiet=True,
        **{
            "market.initial_adoption": 1.0,
            "behaviour.retention.alternative_pull": 1.0,
            "behaviour.retention.max_churn_per_year": 365.0,
        },
    )
    c = m.customers
    who = np.flatnonzero(c.provider == 0)[:1]
    provider = c.provider[who]
    c.attitude[1, who] = 0.0
    unmoved = retention.standing(m, who, provider)
    c.attitude[1, who] = 0.6  # hears well of the competitor
    pulled = retention.standing(m, who, provider)
    assert pulled[0] == pytest.approx(unmoved[0] - 0.6, abs=1e-6)
    assert retention.leaving_hazard(m, pulled)[0] > retention.leaving_hazard(m, unmoved)[0]
    c.attitude[1, who] = -0.6  # a competitor it dislikes does not keep it
    assert retention.standing(m, who, provider)[0] == pytest.approx(unmoved[0], abs=1e-6)


def test_joining_adds_to_what_the_joiner_already_felt() -> None:
    m = make_market(100, quiet=True, **{"market.initial_adoption": 0.0})
    c = m.customers
    who = np.array([0, 1])
    c.attitude[0, who] = [-0.8, 0.2]  # what they heard before joining
    retention.change_provider(m, who, None, np.zeros(2, dtype=np.int8))
    gain = m.params.behaviour.attitude.join_increment
    assert c.attitude[0, who].tolist() == pytest.approx([-0.8 + gain, 0.2 + gain])


def test_nps_counts_what_customers_feel_now() -> None:
    m = lone_shop(**{"behaviour.attitude.promoter_threshold": 0.5})
    c = m.customers
    c.attitude[0, :] = 0.0
    c.episode[0, :] = 0.0
    c.attitude[0, :] = 0.2  # passives
    c.episode[0, : c.n // 2] = 0.6  # half feel well after a recent experience: promoters
    m.step()
    nps = m.results.series("nps", 0)[-1]
    assert nps == pytest.approx(50.0, abs=5.0)
