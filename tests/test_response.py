"""Response policies: queues, refunds, callbacks, goodwill, reviews, CRM touches."""

import numpy as np
import pytest

from cxsim.customers import ISSUE_CALLBACK, ISSUE_NONE, ISSUE_OPEN, ISSUE_QUEUED
from cxsim.events import Event
from cxsim.params import PolicyParams
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


def test_no_questions_refunds_every_case_it_neither_fixes_nor_redresses():
    m, who = handle_all({"preset": "fix", "refund_rule": "no_questions", "fix_probability": 0.3})
    today = m.results.today
    assert today("fixed")[0] > 0
    assert today("fixed")[0] + today("refunds")[0] == who.size
    assert today("refund_cost")[0] == today("refunds")[0] * m.companies[0].params.price


def test_never_refunds_no_complaint():
    m, _ = handle_all({"preset": "fix", "refund_rule": "never"})
    assert m.results.today("refunds")[0] == 0


def test_policy_refunds_only_serious_problems_at_the_policy_rate():
    policy = {"preset": "manage", "fix_probability": 0.0, "policy_refund_probability": 0.5}
    m, who = handle_all(policy, n=1000 - 1)
    refunds = m.results.today("refunds")[0]
    sd = np.sqrt(who.size * 0.25)
    assert abs(refunds - 0.5 * who.size) < 4 * sd
    m, _ = handle_all({**policy, "policy_refund_probability": 1.0}, serious=False)
    assert m.results.today("refunds")[0] == 0


def test_fix_probability_sets_the_share_fixed():
    m, who = handle_all({"preset": "fix", "fix_probability": 0.7}, n=999)
    fixed = m.results.today("fixed")[0]
    assert abs(fixed - 0.7 * who.size) < 4 * np.sqrt(who.size * 0.7 * 0.3)


def test_goodwill_only_for_problems_not_the_companys_fault():
    m, who = handle_all({"preset": "fix", "goodwill_probability": 1.0}, at_fault=False)
    assert m.results.today("goodwill")[0] == who.size
    assert m.results.today("goodwill_cost")[0] == who.size * m.companies[0].params.goodwill_cost
    m, _ = handle_all({"preset": "fix", "goodwill_probability": 1.0}, at_fault=True)
    assert m.results.today("goodwill")[0] == 0


#: The felt event of each outcome of a handled case, by its metric (a call-back promise is
#: logged, not felt).
OUTCOME_EVENTS = {
    "fixed": Event.fixed,
    "goodwill": Event.goodwill,
    "refunds": Event.refund,
    "declined": Event.complaint_ignored,
}
OUTCOME_METRICS = (*OUTCOME_EVENTS, "callbacks_promised")


def mixed_cases(policy, n=2000, seed=3):
    """Handle ``n`` cases of every kind (fault and severity at random) under ``policy``."""
    m = make_market(
        n, quiet=True, companies=one_company(policy), **{"market.initial_adoption": 1.0}
    )
    rng = np.random.default_rng(seed)
    who = np.arange(n)
    open_issues(m, who, 1)
    m.customers.issue_fault[who] = rng.random(n) < 0.5
    m.customers.issue_serious[who] = rng.random(n) < 0.5
    promised = []
    m.attach(_CallbackRecorder(promised))
    begin_day(m, 1)
    response.handle(m, m.companies[0], who, np.random.default_rng(seed))
    return m, who, promised


class _CallbackRecorder:
    listens_to = (Event.callback_promised,)

    def __init__(self, sink):
        self.sink = sink

    def on_event(self, day, event, customers, companies):
        self.sink.extend(customers.tolist())


@pytest.mark.parametrize("refund_rule", ["never", "policy", "no_questions"])
def test_every_handled_case_gets_exactly_one_outcome(refund_rule):
    policy = {
        "preset": "custom",
        "fix_probability": 0.5,
        "goodwill_probability": 0.5,
        "refund_rule": refund_rule,
        "policy_refund_probability": 0.5,
        "callback_probability": 0.5,
        "apology": True,
    }
    m, who, promised = mixed_cases(policy)
    events, customers, _, _ = m.today.first_hand()
    outcomes = np.concatenate(
        [customers[events == e] for e in OUTCOME_EVENTS.values()]
        + [np.array(promised, dtype=np.int64)]
    )
    assert np.array_equal(np.sort(outcomes), who)  # every case once, none twice
    today = m.results.today
    assert sum(today(metric)[0] for metric in OUTCOME_METRICS) == today("handled")[0] == who.size
    for metric, event in OUTCOME_EVENTS.items():
        assert np.count_nonzero(events == event) == today(metric)[0], metric
    assert len(promised) == today("callbacks_promised")[0]
    assert today("resolved")[0] == today("fixed")[0] + today("goodwill")[0] + today("refunds")[0]


def test_refund_and_goodwill_are_never_paid_for_the_same_problem():
    policy = {"preset": "fix", "goodwill_probability": 0.5, "refund_rule": "no_questions"}
    m, who = handle_all(policy, at_fault=False, n=999)
    today = m.results.today
    assert 0 < today("goodwill")[0] < who.size
    assert today("goodwill")[0] + today("refunds")[0] == who.size
    assert today("goodwill_cost")[0] + today("refund_cost")[0] == (
        today("goodwill")[0] * m.companies[0].params.goodwill_cost
        + today("refunds")[0] * m.companies[0].params.price
    )
    events, customers, _, _ = m.today.first_hand()
    assert not set(customers[events == Event.goodwill]) & set(customers[events == Event.refund])


def test_a_complaint_declined_under_a_refund_policy_is_declined_once_and_not_refunded():
    policy = {"preset": "manage", "goodwill_probability": 0.0, "policy_refund_probability": 1.0}
    m, who = handle_all(policy, at_fault=False, serious=True)
    today = m.results.today
    assert today("declined")[0] == who.size
    assert today("refunds")[0] == today("refund_cost")[0] == 0
    assert (m.customers.issue[who] == ISSUE_OPEN).all()
    assert (m.customers.ignored[who] == 1).all()
    events, customers, _, _ = m.today.first_hand()
    assert np.array_equal(np.sort(customers[events == Event.complaint_ignored]), who)
    assert Event.refund not in events


def test_no_questions_refunds_a_problem_it_did_not_cause_instead_of_declining_it():
    m, who = handle_all({"preset": "fix", "goodwill_probability": 0.0}, at_fault=False)
    today = m.results.today
    assert today("refunds")[0] == who.size
    assert today("declined")[0] == 0
    events, _, _, _ = m.today.first_hand()
    assert Event.complaint_ignored not in events
    assert (m.customers.issue[who] == ISSUE_NONE).all()


def test_unfixed_complaints_get_callback_promises():
    m, who = handle_all(
        {
            "preset": "manage",
            "fix_probability": 0.0,
            "refund_rule": "never",
            "callback_probability": 1.0,
        }
    )
    assert (m.customers.issue[who] == ISSUE_CALLBACK).all()
    assert len(m.companies[0].callbacks) == who.size


def test_broken_callbacks_lower_attitude_more_than_silence():
    # Same customers, same problems: one company breaks its callbacks, the other just ignores the complaint.
    outcomes = {}
    for name, policy in {
        "broken_callback": {
            "preset": "manage",
            "fix_probability": 0.0,
            "refund_rule": "never",
            "callback_probability": 1.0,
            "callback_kept": 0.0,
            "callback_days": 1,
        },
        "ignored": {
            "preset": "manage",
            "fix_probability": 0.0,
            "refund_rule": "never",
            "callback_probability": 0.0,
        },
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


KEPT_CALLBACKS = {
    "preset": "manage",
    "fix_probability": 0.0,
    "refund_rule": "never",
    "callback_probability": 1.0,
    "callback_kept": 1.0,
    "callback_days": 2,
}


def test_kept_callback_gives_a_second_chance_to_fix():
    m, who = handle_all(KEPT_CALLBACKS)
    m.companies[0].policy.fix_probability = 1.0
    begin_day(m, 3)
    response.call_back(m, m.companies[0], np.random.default_rng(1))
    assert (m.customers.issue[who] == ISSUE_NONE).all()
    assert m.results.today("broken_promises")[0] == 0
    assert m.results.today("fixed")[0] == who.size


def test_a_kept_callback_that_fixes_nothing_is_declined_not_promised_again():
    m, who = handle_all(KEPT_CALLBACKS)
    m.results.close_day(1)
    begin_day(m, 3)
    response.call_back(m, m.companies[0], np.random.default_rng(1))
    assert m.results.today("declined")[0] == m.results.today("handled")[0] == who.size
    assert m.results.today("callbacks_promised")[0] == 0
    assert len(m.companies[0].callbacks) == 0


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


def review_market(**policy):
    m = make_market(
        1000,
        quiet=True,
        companies=one_company({"preset": "fix", "review_response_probability": 1.0, **policy}),
        **{"market.initial_adoption": 1.0},
    )
    return m


def post_reviews(m, reviewers, day=2):
    m.backlog.answer_customers = reviewers
    m.backlog.answer_company = np.zeros(reviewers.size, dtype=np.int8)
    begin_day(m, day)
    response.answer_reviews(m, m.companies[0], np.random.default_rng(0))


def test_negative_reviews_are_answered_with_a_refund_within_a_day():
    m = review_market()
    reviewers = np.arange(20)
    open_issues(m, reviewers, 1)
    post_reviews(m, reviewers)
    today = m.results.today
    assert today("reviews_answered")[0] == today("handled")[0] == 20
    assert today("refunds")[0] == today("resolved")[0] == 20
    assert today("fixed")[0] == 0  # one outcome: the refund
    assert (m.customers.issue[reviewers] == ISSUE_NONE).all()


def test_a_company_that_never_refunds_answers_a_review_with_a_fix():
    m = review_market(refund_rule="never")
    reviewers = np.arange(20)
    post_reviews(m, reviewers)
    assert m.results.today("fixed")[0] == 20
    assert m.results.today("refunds")[0] == 0


def test_reviews_are_answered_only_for_customers_and_ex_customers():
    m = review_market()
    c = m.customers
    customers = np.arange(10)
    ex_customers = np.arange(10, 20)
    strangers = np.arange(20, 30)
    c.provider[ex_customers] = -1  # they left: still remembered as ex-customers
    c.provider[strangers] = -1
    c.customer_of[strangers] = 0  # they never bought from the company
    post_reviews(m, np.concatenate([customers, ex_customers, strangers]))
    assert m.results.today("reviews_answered")[0] == 20
    events, who, _, _ = m.today.first_hand()
    assert set(who[events == Event.refund]) == set(range(20))


def test_every_customer_is_remembered_by_every_company_it_has_bought_from():
    m = make_market(3000, days=200, **{"behaviour.retention.max_churn_per_year": 20.0})
    start = m.customers.provider.copy()
    m.run()
    c = m.customers
    for k in range(len(m.companies)):
        assert c.have_been_customers(np.flatnonzero(c.provider == k), k).all()
        assert c.have_been_customers(np.flatnonzero(start == k), k).all()
    never = (c.customer_of == 0) & (c.provider == -1)
    assert never.any()  # people who never bought are not counted as ex-customers
    assert np.count_nonzero(c.customer_of & (c.customer_of - 1)) > 0  # some switched


def touch_market(shares: bool, proactive: bool = False, state: int = ISSUE_OPEN, **policy):
    """100 customers with an issue in ``state``, touched about five times a day."""
    policy = {
        "preset": "manage",
        "crm_touches_per_month": 30 * 5,
        "shares_service_information": shares,
        "proactive_follow_ups": proactive,
        "fix_probability": 1.0,
        "callback_probability": 0.0,
        **policy,
    }
    m = make_market(
        1000, quiet=True, companies=one_company(policy), **{"market.initial_adoption": 1.0}
    )
    troubled = np.arange(100)
    open_issues(m, troubled, 1)
    m.customers.issue[troubled] = state
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


def test_sales_that_knows_a_waiting_complaint_gets_it_handled_instead():
    m, troubled = touch_market(shares=True, state=ISSUE_QUEUED)
    events, _, _, _ = m.today.first_hand()
    assert Event.crm_touch_open_problem not in events
    assert (m.customers.issue[troubled] == ISSUE_NONE).mean() > 0.9  # nearly all touched at 5 a day
    assert m.results.today("follow_ups")[0] == 0  # the company knew: not a proactive follow-up


def test_sales_that_shares_information_does_not_find_problems_nobody_voiced():
    m, troubled = touch_market(shares=True, state=ISSUE_OPEN)
    events, who, _, _ = m.today.first_hand()
    assert set(who[events == Event.crm_touch_open_problem]) <= set(troubled)
    assert np.count_nonzero(events == Event.crm_touch_open_problem) > 90
    assert m.results.today("handled")[0] == 0
    assert (m.customers.issue[troubled] == ISSUE_OPEN).all()


def test_proactive_follow_ups_find_unvoiced_problems_and_are_counted():
    m, troubled = touch_market(shares=False, proactive=True, state=ISSUE_OPEN)
    events, _, _, _ = m.today.first_hand()
    assert Event.crm_touch_open_problem not in events
    handled = m.results.today("handled")[0]
    assert handled > 90
    assert m.results.today("follow_ups")[0] == handled
    assert (m.customers.issue[troubled] == ISSUE_NONE).mean() > 0.9


def test_proactive_follow_ups_leave_waiting_complaints_to_the_department():
    m, _ = touch_market(shares=False, proactive=True, state=ISSUE_QUEUED)
    assert m.results.today("handled")[0] == 0
    events, _, _, _ = m.today.first_hand()
    assert np.count_nonzero(events == Event.crm_touch_open_problem) > 90


def test_a_waiting_callback_handled_early_is_not_promised_again():
    m, _ = touch_market(
        shares=True, state=ISSUE_CALLBACK, fix_probability=0.0, callback_probability=1.0
    )
    today = m.results.today
    assert today("handled")[0] > 90
    assert today("callbacks_promised")[0] == 0
    assert today("declined")[0] + today("refunds")[0] == today("handled")[0]


def test_neither_preset_makes_proactive_follow_ups():
    assert not PolicyParams(preset="fix").proactive_follow_ups
    assert not PolicyParams(preset="manage").proactive_follow_ups
    assert PolicyParams(preset="fix").shares_service_information


@pytest.mark.parametrize("touches_per_month", [0.0, 30.0])
def test_the_queue_length_counts_what_touches_left_waiting(touches_per_month):
    m = queue_market(
        capacity_per_day=0,
        response_days=30,
        crm_touches_per_month=touches_per_month,
        shares_service_information=True,
    )
    enqueue(m, np.arange(100), 1)
    begin_day(m, 2)
    response.step(m)
    waiting = m.results.today("queue_length")[0]
    assert waiting == response.count_waiting(m, m.companies[0])
    assert (waiting < 100) == (touches_per_month > 0)  # touches got queued complaints handled
