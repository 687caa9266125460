"""Response policies: queues, refunds, callbacks, goodwill, reviews, CRM touches."""

import numpy as np

from cxsim.customers import ISSUE_CALLBACK, ISSUE_NONE, ISSUE_OPEN, ISSUE_QUEUED
from cxsim.events import Event
from cxsim.stages import attitude, response

from .conftest import begin_day, make_market, one_company, open_issues


def queue_market(capacity_per_day: float, customers: int = 1000, **policy):
    per_1000 = capacity_per_day * 1000 / customers
    pol = {
        "preset": "manage",
        "queue_capacity": per_1000,
        "response_days": 0,
        "fix_probability": 1.0,
        "callback_probability": 0.0,
        "crm_touches_per_month": 0.0,
        **policy,
    }
    m = make_market(
        customers, quiet=True, companies=one_company(pol), **{"market.initial_adoption": 1.0}
    )
    return m


def enqueue(m, who, day):
    company = m.companies[0]
    open_issues(m, who, day)
    m.customers.issue[who] = ISSUE_QUEUED
    company.queue.push(who.astype(np.int32), day, day + company.policy.response_days)


def test_fifo_queue_serves_oldest_first_and_respects_capacity():
    m = queue_market(capacity_per_day=2)
    for day, who in enumerate([[10, 11], [12], [13, 14]], start=1):
        enqueue(m, np.array(who), day)
    begin_day(m, 4)
    response.work_queue(m, m.companies[0], np.random.default_rng(0))
    issue = m.customers.issue
    assert list(issue[[10, 11]]) == [
        ISSUE_NONE,
        ISSUE_NONE,
    ]  # the two oldest were served (and fixed)
    assert list(issue[[12, 13, 14]]) == [ISSUE_QUEUED] * 3
    assert m.results.today("handled")[0] == 2
    begin_day(m, 5)
    response.work_queue(m, m.companies[0], np.random.default_rng(0))
    assert list(issue[[12, 13, 14]]) == [ISSUE_NONE, ISSUE_NONE, ISSUE_QUEUED]


def test_queue_waits_response_days_before_serving():
    m = queue_market(capacity_per_day=10, response_days=3)
    enqueue(m, np.array([5, 6]), 1)
    for day in (2, 3):
        begin_day(m, day)
        response.work_queue(m, m.companies[0], np.random.default_rng(0))
        assert (m.customers.issue[[5, 6]] == ISSUE_QUEUED).all()
    begin_day(m, 4)
    response.work_queue(m, m.companies[0], np.random.default_rng(0))
    assert (m.customers.issue[[5, 6]] == ISSUE_NONE).all()


def test_stale_tickets_do_not_use_capacity():
    m = queue_market(capacity_per_day=1)
    enqueue(m, np.array([1, 2]), 1)
    m.customers.provider[1] = -1  # customer 1 left the market while waiting
    begin_day(m, 2)
    response.work_queue(m, m.companies[0], np.random.default_rng(0))
    assert m.customers.issue[2] == ISSUE_NONE


def test_impatient_complainants_give_up_and_learn_silence():
    m = queue_market(capacity_per_day=0, **{})
    patience = m.params.behaviour.voice.patience_days
    enqueue(m, np.array([7]), 1)
    begin_day(m, 1 + patience + 1)
    response.work_queue(m, m.companies[0], np.random.default_rng(0))
    assert m.customers.issue[7] == ISSUE_OPEN
    assert m.customers.ignored[7] == 1
    events, who, _, _ = m.today.first_hand()
    assert Event.complaint_ignored in events[who == 7]


def handle_all(policy, n=400, *, at_fault=True, serious=True, seed=0):
    m = make_market(
        1000, quiet=True, companies=one_company(policy), **{"market.initial_adoption": 1.0}
    )
    who = np.arange(n)
    open_issues(m, who, 1, at_fault=at_fault, serious=serious)
    begin_day(m, 1)
    response.handle(m, m.companies[0], who, np.random.default_rng(seed))
    return m, who


def test_no_questions_refunds_every_complaint():
    m, who = handle_all({"preset": "fix", "refund_rule": "no_questions", "fix_probability": 0.3})
    assert m.results.today("refunds")[0] == who.size
    assert m.results.today("refund_cost")[0] == who.size * m.companies[0].params.price


def test_never_refunds_no_complaint():
    m, _ = handle_all({"preset": "fix", "refund_rule": "never"})
    assert m.results.today("refunds")[0] == 0


def test_policy_refunds_only_serious_problems_at_the_policy_rate():
    m, who = handle_all(
        {"preset": "manage", "refund_rule": "policy", "policy_refund_probability": 0.5}, n=1000 - 1
    )
    refunds = m.results.today("refunds")[0]
    sd = np.sqrt(who.size * 0.25)
    assert abs(refunds - 0.5 * who.size) < 4 * sd
    m, _ = handle_all(
        {"preset": "manage", "refund_rule": "policy", "policy_refund_probability": 1.0},
        serious=False,
    )
    assert m.results.today("refunds")[0] == 0


def test_fix_probability_sets_the_share_fixed():
    m, who = handle_all({"preset": "fix", "fix_probability": 0.7}, n=999)
    fixed = m.results.today("resolved")[0]
    assert abs(fixed - 0.7 * who.size) < 4 * np.sqrt(who.size * 0.7 * 0.3)


def test_goodwill_only_for_problems_not_the_companys_fault():
    m, who = handle_all({"preset": "fix", "goodwill_probability": 1.0}, at_fault=False)
    assert m.results.today("goodwill")[0] == who.size
    assert m.results.today("goodwill_cost")[0] == who.size * m.companies[0].params.goodwill_cost
    m, _ = handle_all({"preset": "fix", "goodwill_probability": 1.0}, at_fault=True)
    assert m.results.today("goodwill")[0] == 0


def test_unfixed_complaints_get_callback_promises():
    m, who = handle_all({"preset": "manage", "fix_probability": 0.0, "callback_probability": 1.0})
    assert (m.customers.issue[who] == ISSUE_CALLBACK).all()
    assert len(m.companies[0].callbacks) == who.size


def test_broken_callbacks_lower_attitude_more_than_silence():
    # Same customers, same problems: one company breaks its callbacks, the other just ignores the complaint.
    outcomes = {}
    for name, policy in {
        "broken_callback": {
            "preset": "manage",
            "fix_probability": 0.0,
            "callback_probability": 1.0,
            "callback_kept": 0.0,
            "callback_days": 1,
        },
        "ignored": {"preset": "manage", "fix_probability": 0.0, "callback_probability": 0.0},
    }.items():
        m, who = handle_all(policy)
        attitude.step(m)
        begin_day(m, 2)
        response.call_back(m, m.companies[0], np.random.default_rng(1))
        attitude.step(m)
        outcomes[name] = m.customers.attitude[0, who].mean()
        if name == "broken_callback":
            assert m.results.today("broken_promises")[0] == who.size
    assert outcomes["broken_callback"] < outcomes["ignored"]


def test_kept_callback_gives_a_second_chance_to_fix():
    m, who = handle_all(
        {
            "preset": "manage",
            "fix_probability": 0.0,
            "callback_probability": 1.0,
            "callback_kept": 1.0,
            "callback_days": 2,
        }
    )
    m.companies[0].policy.fix_probability = 1.0
    begin_day(m, 3)
    response.call_back(m, m.companies[0], np.random.default_rng(1))
    assert (m.customers.issue[who] == ISSUE_NONE).all()
    assert m.results.today("broken_promises")[0] == 0


def test_immediate_handling_deals_with_complaints_the_same_day():
    m = make_market(
        1000,
        quiet=True,
        companies=one_company({"preset": "fix", "fix_probability": 1.0}),
        **{"market.initial_adoption": 1.0},
    )
    who = np.arange(50)
    open_issues(m, who, 1)
    begin_day(m, 1)
    m.today.complainers = who
    m.today.complainer_company = np.zeros(who.size, dtype=np.int8)
    response.take_complaints(m, m.companies[0], np.random.default_rng(0))
    assert (m.customers.issue[who] == ISSUE_NONE).all()
    events, customers, _, _ = m.today.first_hand()
    assert set(customers[events == Event.fixed_quickly]) == set(who)


def test_negative_reviews_are_answered_with_a_refund_within_a_day():
    m = make_market(
        1000,
        quiet=True,
        companies=one_company({"preset": "fix", "review_response_probability": 1.0}),
        **{"market.initial_adoption": 1.0},
    )
    reviewers = np.arange(20)
    open_issues(m, reviewers, 1)
    m.backlog.answer_customers = reviewers
    m.backlog.answer_company = np.zeros(20, dtype=np.int8)
    begin_day(m, 2)
    response.answer_reviews(m, m.companies[0], np.random.default_rng(0))
    assert m.results.today("reviews_answered")[0] == 20
    assert m.results.today("refunds")[0] == 20
    assert (m.customers.issue[reviewers] == ISSUE_NONE).all()


def touch_market(shares: bool):
    policy = {
        "preset": "manage",
        "crm_touches_per_month": 30 * 5,
        "shares_service_information": shares,
        "fix_probability": 1.0,
        "callback_probability": 0.0,
    }
    m = make_market(
        1000, quiet=True, companies=one_company(policy), **{"market.initial_adoption": 1.0}
    )
    troubled = np.arange(100)
    open_issues(m, troubled, 1)
    begin_day(m, 2)
    response.touch_customers(m, m.companies[0], np.random.default_rng(0))
    return m, troubled


def test_crm_touches_wear_out_customers_with_open_problems():
    m, troubled = touch_market(shares=False)
    events, who, _, _ = m.today.first_hand()
    worn = set(who[events == Event.crm_touch_open_problem])
    assert worn
    assert worn <= set(troubled)
    pleased = set(who[events == Event.crm_touch])
    assert pleased
    assert not pleased & set(troubled)
    assert (m.customers.fatigue[list(worn)] >= 1).all()


def test_sales_that_knows_the_open_issue_gets_it_handled_instead():
    m, troubled = touch_market(shares=True)
    events, _, _, _ = m.today.first_hand()
    assert Event.crm_touch_open_problem not in events
    assert (m.customers.issue[troubled] == ISSUE_NONE).mean() > 0.9  # nearly all touched at 5 a day
