"""Whole-model behaviour: reproducibility, invariants, Mesa interop, journeys and the stages' effects."""

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxsim import Market
from cxsim.day import DAY
from cxsim.events import Event
from cxsim.journey import JourneyLog
from cxsim.results import METRICS, REAL_VALUED
from cxsim.stages import retention

from .conftest import make_market, one_company


def test_the_day_runs_the_briefs_stages_in_order():
    assert [s.name for s in DAY] == [
        "purchase",
        "problem",
        "voice",
        "response",
        "attitude",
        "word_of_mouth",
        "retention",
        "learning",
        "accounts",
    ]


def test_same_seed_gives_identical_results():
    a = make_market(3000, days=60).run().results_frame()
    b = make_market(3000, days=60).run().results_frame()
    pd.testing.assert_frame_equal(a, b)


def test_different_seeds_give_different_results():
    a = make_market(3000, days=60).run().results_frame()
    b = make_market(3000, days=60, **{"market.seed": 2}).run().results_frame()
    assert not a.equals(b)


def test_two_policies_share_network_customers_and_purchase_days():
    """Common random numbers: changing a policy does not change the luck of unrelated draws."""
    manage = make_market(3000, days=1, companies=one_company("manage"))
    fix = make_market(3000, days=1, companies=one_company("fix"))
    assert np.array_equal(manage.network.indices, fix.network.indices)
    assert np.array_equal(manage.customers.provider, fix.customers.provider)
    manage.step()
    fix.step()
    assert np.array_equal(manage.today.buyers, fix.today.buyers)


def test_results_are_preallocated_for_every_day():
    m = make_market(500, days=40)
    assert m.results.values.shape == (41, 2, len(METRICS))
    before = m.results.values
    m.run()
    assert m.results.values is before
    frame = m.results_frame()
    assert list(frame.columns[:2]) == ["day", "company"]
    assert len(frame) == 41 * 2


def test_mesa_batch_run_accepts_dotted_keys():
    runs = mesa.batch_run(
        Market,
        parameters={
            "market.customers": 400,
            "market.days": 15,
            "companies.0.policy.refund_rule": ["never", "no_questions"],
        },
        iterations=1,
        max_steps=100,
        display_progress=False,
    )
    assert len(runs) == 2
    assert {r["companies.0.policy.refund_rule"] for r in runs} == {"never", "no_questions"}
    for r in runs:
        assert r["day"] == 15
        assert r["customers_managing"] + r["customers_fixing"] + r["prospects"] == 400


def test_datacollector_dataframe_has_a_row_per_day():
    m = make_market(400, days=10).run()
    frame = m.datacollector.get_model_vars_dataframe()
    assert len(frame) == 10
    assert frame["day"].tolist() == list(range(1, 11))


def test_journey_log_keeps_only_sampled_customers_and_is_bounded():
    m = make_market(2000, days=200, **{"journey.sample_size": 25, "journey.max_events": 300})
    m.run()
    log = m.journey_frame()
    assert set(log["customer"]) <= set(m.journey.customers)
    assert len(log) == 300
    assert m.journey.dropped > 0
    assert log["day"].is_monotonic_increasing


def test_journey_log_off_by_default():
    m = make_market(500, days=5).run()
    assert m.journey_frame().empty


@st.composite
def random_parameters(draw):
    k = draw(st.integers(1, 4))
    companies = [
        {
            "name": f"c{i}",
            "policy": draw(st.sampled_from(["manage", "fix"])),
            "delivered_quality": draw(st.floats(0.5, 1.0)),
            "initial_share": draw(st.floats(0.1, 1.0)),
        }
        for i in range(k)
    ]
    for c in companies:
        c["promised_quality"] = draw(st.floats(0.5, 1.0))
        c["max_quality"] = max(c["delivered_quality"], 0.99)
    return {
        "market.customers": draw(st.integers(50, 600)),
        "market.days": draw(st.integers(1, 40)),
        "market.seed": draw(st.integers(0, 10_000)),
        "market.initial_adoption": draw(st.floats(0.0, 1.0)),
        "market.advertising_rate": draw(st.floats(0.0, 5.0)),
        "market.imitation_rate": draw(st.floats(0.0, 5.0)),
        "network.kind": draw(
            st.sampled_from(["small_world", "scale_free", "random", "fully_mixed"])
        ),
        "network.mean_degree": draw(st.sampled_from([2, 4, 10])),
        "behaviour.retention.max_churn_per_year": draw(st.floats(0.0, 20.0)),
        "behaviour.retention.base_churn_per_year": draw(st.floats(0.0, 2.0)),
        "behaviour.word_of_mouth.retell_probability": draw(st.floats(0.0, 1.0)),
        "behaviour.word_of_mouth.review_readers": draw(st.floats(0.0, 50.0)),
        "behaviour.word_of_mouth.chime_in_probability": draw(st.floats(0.0, 0.2)),
        "companies": companies,
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_parameters())
def test_invariants_hold_for_random_valid_parameters(overrides):
    m = Market(**overrides).run()
    frame = m.results_frame()
    n = m.customers.n
    per_day = frame.groupby("day")["customers"].sum().to_numpy()
    prospects = m.results.prospects[: m.results.last_day + 1]
    assert np.array_equal(per_day + prospects, np.full(per_day.size, n)), "people are conserved"
    shares = frame.groupby("day")["market_share"].sum().to_numpy()
    assert np.allclose(shares[per_day > 0], 1.0), "shares sum to 1 among served customers"
    assert not frame.isna().any().any()
    counts = [c for c in METRICS if c not in REAL_VALUED]
    assert (frame[counts] >= 0).all().all()
    assert (frame[["refund_cost", "goodwill_cost", "revenue", "cost"]] >= 0).all().all()
    assert np.isfinite(m.customers.attitude).all()
    assert np.isfinite(m.customers.episode).all()
    assert ((frame["nps"] >= -100) & (frame["nps"] <= 100)).all()


# --------------------------------------------------------------------------- stage effects


def test_promise_above_delivery_creates_problems():
    def problems(promised, price=100.0, quoted=None):
        m = make_market(
            5000,
            days=60,
            quiet=True,
            companies=one_company(
                "fix",
                delivered_quality=0.9,
                promised_quality=promised,
                price=price,
                quoted_price=quoted,
                max_quality=0.99,
            ),
            **{"market.initial_adoption": 1.0, "companies.0.policy.learning_rate": 0.0},
        )
        df = m.run().results_frame()
        return df["problems"].sum() / df["purchases"].sum()

    honest = problems(0.9)
    assert problems(0.98) > honest + 0.05
    assert problems(0.9, price=130.0, quoted=100.0) > honest + 0.2


def test_promotion_breaks_its_promise_to_customers_past_the_boundary():
    promo = {"start_day": 0, "end_day": 30, "advertising_lift": 1.0, "excluded_share": 0.1}
    m = make_market(
        5000,
        days=30,
        quiet=True,
        companies=one_company("fix", promotions=[promo]),
        **{
            "market.initial_adoption": 1.0,
            "journey.sample_size": 5000,
            "journey.max_events": 10**6,
        },
    )
    m.run()
    log = m.journey_frame()
    broken = log.loc[log["event"] == "broken_promise", "customer"].unique()
    assert broken.size > 0
    assert (m.customers.location[broken] >= 0.9).all()
    bought_inside = log.loc[log["event"] == "purchase", "customer"]
    inside = bought_inside[m.customers.location[bought_inside.to_numpy()] < 0.9]
    assert not set(inside) & set(broken)


def test_learning_company_improves_quality_and_managing_company_does_not():
    quality = {
        f"companies.{i}.{f}": 0.9 for i in (0, 1) for f in ("delivered_quality", "promised_quality")
    }
    m = make_market(5000, days=200, quiet=True, **{"market.initial_adoption": 1.0, **quality})
    m.run()
    frame = m.results_frame()
    final = frame[frame.day == 200].set_index("company")["delivered_quality"]
    assert final["fixing"] > 0.9 + 0.01
    assert final["managing"] == pytest.approx(0.9)


def test_leaving_hazard_falls_with_standing_and_loyalty_raises_standing():
    m = make_market(100, **{"market.initial_adoption": 1.0})
    standing = np.linspace(-1, 1, 21)
    h = retention.leaving_hazard(m, standing)
    assert np.all(np.diff(h) < 0)
    pars = m.params.behaviour.retention
    assert h[0] <= pars.base_churn_per_year + pars.max_churn_per_year
    c = m.customers
    who = np.flatnonzero(c.provider >= 0)[:2]
    c.join_day[who] = [m.day, m.day - 3 * 365]  # a new and a long-standing customer
    c.attitude[:, who] = 0.0
    new, old = retention.standing(m, who, c.provider[who])
    assert old - new == pytest.approx(pars.loyalty_cap)


def test_leavers_switch_to_the_competitor_they_like_best():
    m = make_market(
        3000,
        days=1,
        companies=[{"name": n, "policy": "fix"} for n in ("a", "b", "c")],
        **{
            "market.initial_adoption": 1.0,
            "market.advertising_rate": 0.0,
            "market.imitation_rate": 0.0,
            "market.purchase_interval_days": 1.0,  # most people are due to buy tomorrow
            "behaviour.retention.max_churn_per_year": 365.0,
        },
    )
    c = m.customers
    c.attitude[:] = 0.0
    c.attitude[c.provider.astype(np.intp), np.arange(c.n)] = -1.0  # everyone hates its provider
    c.attitude[2, c.provider != 2] = 0.8  # and likes c, unless c is its provider
    before = c.provider.copy()
    m.step()
    moved = np.flatnonzero(before != c.provider)
    # Due tomorrow: 1 - e^-1 of them; leaving at that occasion: 1 - e^-1 (h x interval = 1).
    assert moved.size > 0.3 * c.n
    from_other = moved[before[moved] != 2]
    assert (c.provider[from_other] == 2).all()
    assert (
        c.provider[moved[before[moved] == 2]] == -1
    ).all()  # c's own customers like no one: they leave the market


def test_ignored_complaints_teach_silence():
    from cxsim.stages import voice

    m = make_market(100, companies=one_company("fix"), **{"market.initial_adoption": 1.0})
    who = np.arange(2)
    comp = np.zeros(2, dtype=np.int8)
    m.customers.ignored[1] = 2
    p = voice.complaint_probability(m, who, comp, np.array([True, True]))
    assert p[1] == pytest.approx(p[0] * m.params.behaviour.voice.learned_silence**2)


def test_crm_fatigue_quiets_complaints():
    from cxsim.stages import voice

    m = make_market(100, companies=one_company("fix"), **{"market.initial_adoption": 1.0})
    m.customers.fatigue[1] = 4.0
    p = voice.complaint_probability(m, np.arange(2), np.zeros(2, np.int8), np.array([False, False]))
    assert p[1] < p[0]


def test_quick_generous_recovery_can_end_above_the_start():
    # The service recovery paradox is a parameter: with it a quick fix with refund and apology more than
    # offsets the problem; without it, it does not.
    def net_effect(paradox):
        m = make_market(100, **{"behaviour.attitude.recovery_paradox": paradox})
        e = m.effects
        return (
            e[Event.problem_minor]
            + e[Event.fixed]
            + e[Event.fixed_quickly]
            + e[Event.refund]
            + e[Event.apology]
            + e[Event.recovery_paradox]
        )

    assert net_effect(0.05) > net_effect(0.0)
    assert net_effect(0.05) > 0


def test_summary_figures_follow_from_the_daily_results():
    m = make_market(3000, days=365).run()
    frame = m.results_frame()
    s = m.summary()
    fixing = frame[frame.company == "fixing"]
    assert s.loc["fixing", "churned"] == fixing["churned"].sum()
    assert s.loc["fixing", "customers"] == fixing["customers"].iloc[-1]
    churn = fixing["churned"].sum() / fixing["customers"].mean()
    assert s.loc["fixing", "annual_churn"] == pytest.approx(churn)
    assert s.loc["fixing", "retention"] == fixing["retained"].iloc[-1] / fixing["customers"].iloc[0]
    retained = fixing["retained"].to_numpy()
    assert np.all(np.diff(retained) <= 0)  # nobody becomes a day-0 customer later
    assert np.all(retained <= fixing["customers"].to_numpy())
    margin = (fixing["profit"].sum() + fixing["acquisition_cost"].sum()) / fixing[
        "customers"
    ].mean()
    d = m.params.market.discount_rate
    r = np.exp(-churn)
    assert s.loc["fixing", "customer_lifetime_value"] == pytest.approx(
        margin * (1 + d) / (1 + d - r) - m.params.companies[1].acquisition_cost
    )


def test_network_from_an_edge_list_file(tmp_path):
    import networkx as nx

    from cxsim.networks import NetworkFileError

    graph = nx.watts_strogatz_graph(300, 6, 0.1, seed=1)
    nx.write_edgelist(graph, tmp_path / "friends.edgelist", data=False)
    m = Market(
        **{
            "market.customers": 300,
            "market.days": 20,
            "network.kind": "file",
            "network.path": "friends.edgelist",
        },
        base_dir=tmp_path,
    )
    assert m.network.n_edges == graph.number_of_edges()
    m.run()
    with pytest.raises(NetworkFileError, match=r"customer id \d+ is outside 0\.\.199"):
        Market(
            **{"market.customers": 200, "network.kind": "file", "network.path": "friends.edgelist"},
            base_dir=tmp_path,
        )


def test_journey_can_track_chosen_customers():
    chosen = np.array([3, 14, 159])
    journeys = JourneyLog.of(2000, chosen)
    m = make_market(2000, days=90, observers=[journeys])
    m.run()
    log = journeys.to_frame([c.name for c in m.companies])
    assert set(log["customer"]) <= set(chosen)
    assert not log.empty


def test_customer_counts_kept_by_changes_of_provider_match_a_recount():
    m = make_market(3000, days=200)
    for _ in range(200):
        m.step()
        recount = np.bincount(m.customers.provider[m.customers.provider >= 0], minlength=2)
        assert np.array_equal(m.customer_counts, recount)


def test_voicing_a_complaint_moves_attitude_by_its_parameter():
    from cxsim.stages import attitude, voice

    m = make_market(
        500,
        quiet=True,
        companies=one_company("fix"),
        **{
            "market.initial_adoption": 1.0,
            "behaviour.attitude.complained": 0.25,
            "behaviour.voice.minor": 1.0,
            "behaviour.voice.crm_fatigue_damping": 0.0,
        },
    )
    who = np.arange(10)
    before = attitude.felt(m, 0, who)
    m.today.problem_customers = who
    m.today.problem_company = np.zeros(10, dtype=np.int8)
    m.today.problem_serious = np.zeros(10, dtype=bool)
    voice.step(m)
    attitude.apply(m, *[a for a in m.today.first_hand()])
    att = m.params.behaviour.attitude
    # The episode takes all of it, the lasting attitude a good experience's share.
    assert np.allclose(
        attitude.felt(m, 0, who) - before, 0.25 * (1 + att.lasting_share / att.loss_aversion)
    )
