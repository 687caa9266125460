"""Compiled kernels give exactly what their rule, written in NumPy, gives."""

from __future__ import annotations

import numpy as np
import pytest

from cxsim.stages import accounts
from cxsim.stages import attitude as attitude_stage


def random_market(n: int, k: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    attitude = rng.normal(0.0, 0.6, (k, n)).astype(np.float32)
    # Some people exactly on the thresholds, where >= and <= decide.
    attitude[:, : n // 10] = np.float32(0.5)
    attitude[:, n // 10 : n // 5] = np.float32(-0.3)
    return {
        "provider": rng.integers(-1, k, n).astype(np.int8),
        "join_day": rng.integers(-300, 300, n).astype(np.int32),
        "attitude": attitude,
        "episode": np.where(rng.random((k, n)) < 0.5, 0, rng.normal(0, 0.3, (k, n))).astype(
            np.float32
        ),
    }


@pytest.mark.parametrize(("n", "k", "seed"), [(0, 2, 0), (1, 1, 1), (997, 3, 2), (20_000, 4, 3)])
def test_the_level_kernel_counts_as_the_rule_in_numpy(n: int, k: int, seed: int) -> None:
    m = random_market(n, k, seed)
    promoter, detractor = 0.5, -0.3
    felt, mine = np.empty(n, np.float32), np.empty(n, np.float32)
    for company in range(k):
        got = accounts.level_counts(
            company,
            m["provider"],
            m["join_day"],
            m["attitude"],
            m["episode"],
            np.float32(promoter),
            np.float32(detractor),
            felt,
            mine,
        )
        # The rule, as the accounts stage wrote it in NumPy before the kernel.
        ours = m["provider"] == company
        feeling = m["attitude"][company] + m["episode"][company]
        want = (
            np.count_nonzero(ours & (m["join_day"] <= 0)),
            np.count_nonzero(ours & (feeling >= promoter)),
            np.count_nonzero(ours & (feeling <= detractor)),
        )
        assert got == want
        assert np.array_equal(felt, feeling)
        assert np.array_equal(mine, ours.astype(np.float32))
        assert np.dot(felt, mine) == np.dot(feeling, ours)


@pytest.mark.parametrize(("m", "seed"), [(0, 0), (1, 1), (5_000, 2)])
def test_the_experience_kernel_adds_as_the_rule_in_numpy(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, n = 3, 50  # few people: many experiences of one person, added in order
    attitude = rng.normal(0, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 1, (k, n)).astype(np.float32)
    events = rng.integers(0, 6, m).astype(np.int8)
    customers = rng.integers(0, n, m)
    companies = rng.integers(0, k, m).astype(np.int8)
    strengths = rng.choice(np.array([1.0, 0.5, 1.7], np.float32), m)
    effects = rng.normal(0, 0.2, 6).astype(np.float32)
    is_hearsay = np.array([False, True, False, False, True, False])
    bad, good = np.float32(0.3), np.float32(0.1)
    want_attitude, want_episode = attitude.copy(), episode.copy()
    attitude_stage.add_experiences(
        attitude, episode, events, customers, companies, strengths, effects, is_hearsay, bad, good
    )
    # The rule, as the attitude stage wrote it in NumPy before the kernel.
    keys = companies.astype(np.int64) * n + customers
    delta = effects[events.astype(np.intp)] * strengths
    hearsay = is_hearsay[events.astype(np.intp)]
    lasting = np.where(hearsay, delta, delta * np.where(delta < 0, bad, good))
    np.add.at(want_attitude.reshape(-1), keys, lasting.astype(np.float32))
    np.add.at(want_episode.reshape(-1), keys[~hearsay], delta[~hearsay].astype(np.float32))
    assert np.array_equal(attitude, want_attitude)
    assert np.array_equal(episode, want_episode)


def test_the_contact_count_kernel_counts_as_the_rule_in_numpy() -> None:
    from cxsim.model import shift_contact_counts
    from cxsim.networks import build
    from cxsim.params import resolve
    from cxsim.rng import Streams

    n, k = 2_000, 3
    net = build(
        resolve({"network": {"kind": "scale_free", "mean_degree": 6}}).network,
        n,
        Streams(5)("network"),
    )
    rng = np.random.default_rng(5)
    who = rng.integers(0, n, 3_000)  # repeats: a contact met twice is counted twice
    providers = rng.integers(-1, k, who.size).astype(np.int8)
    counts = rng.integers(10, 100, (k, n)).astype(np.uint16)
    want = counts.copy()
    shift_contact_counts(counts, net.indptr, net.indices, who, providers, -1)
    # The rule in NumPy: every contact of a changer with a provider, once per changer.
    deg, contacts = net.contacts(who)
    keys = np.repeat(providers.astype(np.int64) * n, deg) + contacts
    np.subtract.at(want.reshape(-1), keys[np.repeat(providers >= 0, deg)], 1)
    assert np.array_equal(counts, want)


@pytest.mark.parametrize(("shares", "proactive"), [(False, False), (True, False), (True, True)])
def test_the_touch_kernel_draws_and_sorts_touches_as_the_rule_in_numpy(
    shares: bool, proactive: bool
) -> None:
    from cxsim.customers import ISSUE_CALLBACK, ISSUE_OPEN, ISSUE_QUEUED
    from cxsim.rng import Streams, bernoulli_indices, bit_generator_address
    from cxsim.stages.response import touch

    rng = np.random.default_rng(6)
    n, k, day, memory, p = 5_000, 1, 400, 60, 0.3
    provider = rng.integers(-1, 3, n).astype(np.int8)
    issue = rng.integers(0, 4, n).astype(np.int8)
    issue_day = rng.integers(day - 120, day + 1, n).astype(np.int32)
    fatigue = rng.random(n).astype(np.float32)
    crm_touches = np.array([0.5, 2.0, 0.0])
    want_fatigue, want_touches = fatigue.copy(), crm_touches.copy()
    streams, twin = Streams(6), Streams(6)
    groups, sizes, _ = touch(
        streams.address("response", day, k),
        n,
        p,
        k,
        provider,
        issue,
        issue_day,
        fatigue,
        day,
        memory,
        shares,
        proactive,
        crm_touches,
    )
    # The rule, as the response stage wrote it in NumPy before the kernel.
    stream = twin("response", day, k)
    drawn = bernoulli_indices(stream, n, p)
    touched = drawn[provider[drawn] == k]
    want_fatigue[touched] += 1.0
    want_touches[k] += touched.size
    state = issue[touched]
    open_issue = (state != 0) & ~((state == ISSUE_OPEN) & (day - issue_day[touched] > memory))
    troubled, state = touched[open_issue], state[open_issue]
    queued = (state == ISSUE_QUEUED) & shares
    callback = (state == ISSUE_CALLBACK) & shares
    found = (state == ISSUE_OPEN) & proactive
    want = (
        touched[~open_issue],
        troubled[queued],
        troubled[callback],
        troubled[found],
        troubled[~queued & ~callback & ~found],
    )
    for g, want_group in enumerate(want):
        assert np.array_equal(groups[g, : sizes[g]], want_group)
    assert all(group.size for group in want[:1])  # the draw reaches calm customers
    assert np.array_equal(fatigue, want_fatigue)
    assert np.array_equal(crm_touches, want_touches)
    # The kernel drew what NumPy drew: with the draws it owes, the stream goes on from the
    # same place.
    mine = streams("response", day, k)
    *_, owed = touch(
        bit_generator_address(mine),
        n,
        p,
        k,
        provider,
        issue,
        issue_day,
        fatigue.copy(),
        day,
        memory,
        shares,
        proactive,
        crm_touches.copy(),
    )
    mine.standard_exponential(owed)
    assert mine.random() == stream.random()


@pytest.mark.parametrize(
    ("p", "start", "n"), [(0.03, -1.0, 2_000), (0.5, 17.0, 100), (1e-9, -1.0, 10)]
)
def test_the_gap_kernel_places_gaps_as_the_rule_in_numpy(p: float, start: float, n: int) -> None:
    from cxsim.rng import gap_positions

    gaps = np.random.default_rng(7).standard_exponential(500)
    scale = -1.0 / np.log1p(-p)
    # The rule, as rng.bernoulli_indices wrote it in NumPy before the kernel.
    want = np.ceil(gaps * scale)
    want[0] += start
    want = np.cumsum(want)
    below = gap_positions(gaps, scale, start, n)
    assert np.array_equal(gaps, want)
    assert below == np.searchsorted(want, n)


def test_the_listener_kernel_picks_listeners_as_the_rule_in_numpy() -> None:
    from cxsim.networks import build, listeners_in_rows
    from cxsim.params import resolve
    from cxsim.rng import Streams

    n = 3_000
    params = resolve({"network": {"kind": "random", "mean_degree": 4}}).network
    net = build(params, n, Streams(8)("network"))
    rng = np.random.default_rng(8)
    tellers = rng.integers(0, n, 2_000)
    audience = rng.poisson(3.0, tellers.size)
    u = rng.random(tellers.size)
    got_position, got_listener = listeners_in_rows(net.indptr, net.indices, tellers, audience, u)
    # The rule, as Network.sample_listeners wrote it in NumPy before the kernel.
    deg = net.degree[tellers].astype(np.int64)
    assert (deg == 0).any()  # people without contacts reach no one
    a = np.minimum(audience, deg)
    start = np.floor(u * deg).astype(np.int64)
    position = np.repeat(np.arange(tellers.size, dtype=np.int64), a)
    first = np.cumsum(a) - a
    step = np.arange(position.size, dtype=np.int64) - first[position]
    offset = (start[position] + step) % deg[position]
    listener = net.indices[net.indptr[tellers][position] + offset].astype(np.int64)
    assert np.array_equal(got_position, position)
    assert np.array_equal(got_listener, listener)


def test_the_purchase_kernel_sorts_purchases_as_the_rule_in_numpy() -> None:
    from cxsim.rng import Streams, bit_generator_address
    from cxsim.stages.problem import sort_purchases

    rng = np.random.default_rng(9)
    n, k, day = 4_000, 3, 77
    buyers = np.sort(rng.choice(n, 1_500, replace=False)).astype(np.int64)
    company = rng.integers(0, k, buyers.size).astype(np.int8)
    location = rng.random(n).astype(np.float32)
    p_problem = np.array([0.1, 0.3, 0.05])
    excluded_from = 1.0 - np.array([0.0, 0.2, 0.05])
    columns = (
        np.zeros(n, np.int8),
        np.zeros(n, np.int32),
        np.zeros(n, bool),
        np.zeros(n, bool),
    )
    # The day's results as the model holds them: columns of a (companies, metrics) table.
    table = rng.integers(0, 5, (k, 4)).astype(np.float64)
    want_table = table.copy()
    want_columns = tuple(c.copy() for c in columns)
    streams, twin = Streams(9), Streams(9)
    m = buyers.size
    people = np.empty((5, m), np.int64)
    companies = np.empty((5, m), np.int8)
    serious_out = np.empty(m, bool)
    sizes = sort_purchases(
        streams.address("problem", day),
        buyers,
        company,
        location,
        p_problem,
        excluded_from,
        0.4,
        0.2,
        *columns,
        day,
        table[:, 0],
        table[:, 2],
        table[:, 3],
        people,
        companies,
        serious_out,
    )
    who, comp, sev = people[0, : sizes[0]], companies[0, : sizes[0]], serious_out[: sizes[0]]
    # The rule, as the problem stage wrote it in NumPy before the kernel.
    stream = twin("problem", day)
    draws = stream.random((3, buyers.size))
    c = company.astype(np.intp)
    excluded = location[buyers] >= excluded_from[c]
    has = excluded | (draws[0] < p_problem[c])
    serious = excluded | (draws[1] < 0.4)
    fault = excluded | (draws[2] >= 0.2)
    w, co, s, b = buyers[has], company[has], serious[has], excluded[has]
    want_columns[0][w], want_columns[1][w] = 1, day
    want_columns[2][w], want_columns[3][w] = s, fault[has]
    assert b.any()  # every group is met
    assert s.any()
    assert (~s).any()
    assert np.array_equal(who, w)
    assert np.array_equal(comp, co)
    assert np.array_equal(sev, s)
    for got, want in zip(columns, want_columns, strict=True):
        assert np.array_equal(got, want)
    want_groups = ((w[b], co[b]), (w[s], co[s]), (w[~s], co[~s]), (buyers[~has], company[~has]))
    for g, (want_who, want_company) in enumerate(want_groups, start=1):
        assert np.array_equal(people[g, : sizes[g]], want_who)
        assert np.array_equal(companies[g, : sizes[g]], want_company)
    for column, mask in zip((0, 2, 3), (np.ones_like(s), s, b), strict=True):
        want_table[:, column] += np.bincount(co[mask], minlength=k)
    assert np.array_equal(table, want_table)
    # The kernel drew what NumPy drew: the stream goes on from the same place.
    mine = streams("problem", day)
    sort_purchases(
        bit_generator_address(mine),
        buyers,
        company,
        location,
        p_problem,
        excluded_from,
        0.4,
        0.2,
        *(column.copy() for column in columns),
        day,
        np.zeros(k),
        np.zeros(k),
        np.zeros(k),
        people,
        companies,
        serious_out,
    )
    assert mine.random() == stream.random()


def test_the_story_kernels_choose_tellers_as_the_rule_in_numpy() -> None:
    from cxsim.events import TELLABLE, Event
    from cxsim.stages.word_of_mouth import (
        _TELL_SIGN,
        choose_tellers,
        day_stories,
        tellable_experiences,
    )

    rng = np.random.default_rng(10)
    n, k, m = 300, 3, 4_000  # few people: several experiences a day each
    tellable = np.array([int(e) for e in TELLABLE], dtype=np.int8)
    events = np.where(
        rng.random(m) < 0.4, np.int8(Event.satisfied), rng.choice(tellable, m)
    ).astype(np.int8)
    customers = rng.integers(0, n, m)
    companies = rng.integers(0, k, m).astype(np.int8)
    strengths = rng.choice(np.array([1.0, 0.5, 2.0], np.float32), m)
    effects = rng.normal(0, 0.2, len(Event)).astype(np.float32)
    attitude = rng.normal(0, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 0.3, (k, n)).astype(np.float32)
    threshold = 0.7
    keys, weights = tellable_experiences(
        events, customers, companies, strengths, effects, _TELL_SIGN, k
    )
    keys, story, promoter_keys = day_stories(
        keys,
        weights,
        np.argsort(keys, kind="stable"),
        events,
        customers,
        companies,
        k,
        attitude,
        episode,
        np.float32(threshold),
    )
    # The rule, as the word-of-mouth stage wrote it in NumPy before the kernels.
    sign = _TELL_SIGN[events.astype(np.intp)]
    ok = sign != 0
    want_keys, inverse = np.unique(customers[ok] * k + companies[ok], return_inverse=True)
    net = np.bincount(inverse, weights=effects[events[ok]] * strengths[ok])
    assert np.array_equal(keys, want_keys)
    assert np.array_equal(story, np.sign(net).astype(np.int8))
    happy = events == Event.satisfied
    feels = (
        attitude[companies[happy], customers[happy]] + episode[companies[happy], customers[happy]]
    )
    promoter = feels >= threshold
    want_promoters = customers[happy][promoter] * k + companies[happy][promoter]
    at = np.minimum(np.searchsorted(want_keys, want_promoters), want_keys.size - 1)
    want_promoters = want_promoters[want_keys[at] != want_promoters]
    assert np.array_equal(promoter_keys, want_promoters)
    assert promoter_keys.size > 0

    promoter_tells = rng.random(promoter_keys.size) < 0.3
    u = rng.random(keys.size + promoter_tells.sum())
    who, company, told = choose_tellers(keys, story, promoter_keys, promoter_tells, u, 0.6, 0.2, k)
    all_keys = np.concatenate([keys, promoter_keys[promoter_tells]])
    all_story = np.concatenate([story, np.ones(promoter_tells.sum(), np.int8)])
    tells = ((all_story < 0) & (u < 0.6)) | ((all_story > 0) & (u < 0.2))
    tells[keys.size :] = True
    assert np.array_equal(who, all_keys[tells] // k)
    assert np.array_equal(company, (all_keys[tells] % k).astype(np.int8))
    assert np.array_equal(told, all_story[tells])


def test_the_books_kernel_closes_the_day_as_the_rule_in_numpy() -> None:
    from cxsim.results import METRIC_INDEX, METRICS

    rng = np.random.default_rng(11)
    k = 3
    today = rng.random((k, len(METRICS))) * rng.integers(1, 1000, (k, len(METRICS)))
    rates = (rng.random((k, 6)) * 50).T  # (rates, companies) as accounts.cost_rates makes it
    want = today.copy()
    accounts.close_books(today, rates, accounts.BOOK_COLUMNS)
    # The rule, as the accounts stage wrote it in NumPy before the kernel.
    unit, handling, fix, crm, advertising, acquisition = rates

    def col(m: str) -> np.ndarray:
        return want[:, METRIC_INDEX[m]]

    col("acquisition_cost")[:] = acquisition * col("acquired")
    cost = (
        unit * col("purchases")
        + col("cost_to_serve")
        + col("acquisition_cost")
        + handling * col("handled")
        + fix * col("fixed")
        + col("refund_cost")
        + col("goodwill_cost")
        + crm * col("crm_touches")
        + advertising
    )
    col("cost")[:] = cost
    col("profit")[:] = col("revenue") - cost
    assert np.array_equal(today, want)


def test_the_hearing_kernels_hear_and_retell_as_the_rule_in_numpy() -> None:
    from cxsim.stages.word_of_mouth import _HEARD_NEGATIVE, _HEARD_POSITIVE, hearings, retell

    rng = np.random.default_rng(12)
    k, tellers, n = 3, 400, 1_000
    company = rng.integers(0, k - 1, tellers).astype(np.int8)  # the last company tells nothing
    sign = rng.choice(np.array([-1, 1], np.int8), tellers)
    strength = rng.choice(np.array([1.0, 0.5, 0.25, 0.125], np.float32), tellers)
    generation = rng.integers(0, 4, tellers).astype(np.int32)
    story = rng.integers(0, 10_000, tellers)
    position = np.sort(rng.integers(0, tellers, 2_000))
    listeners = rng.integers(0, n, position.size)
    provider = rng.integers(-1, k, n).astype(np.int8)
    heard, told, heard_counts, praised = hearings(
        position, listeners, company, sign, strength, k, provider, True
    )
    # The rule, as the word-of-mouth stage wrote it in NumPy before the kernels.
    want = (company[position], sign[position], strength[position])
    negative = want[1] < 0
    events = np.where(negative, _HEARD_NEGATIVE, _HEARD_POSITIVE)
    for got, expected in zip(heard, (*want, events), strict=True):
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected)
    for got, companies, condition in ((told, company, sign < 0), (heard_counts, want[0], negative)):
        split = np.bincount(companies * 2 + condition, minlength=2 * k).reshape(k, 2)
        assert np.array_equal(got, split)
    praise = ~negative
    praise[praise] = provider[listeners[praise]] == -1
    expected_praise = (listeners[praise], want[0][praise], want[2][praise])
    for got, expected in zip(praised, expected_praise, strict=True):
        assert np.array_equal(got, expected)

    u = rng.random(position.size)
    got = retell(
        position, listeners, *want, u, 0.3, np.float32(0.5), np.float32(0.2), generation, story
    )
    next_strength = (want[2] * 0.5).astype(np.float32)
    again = (u < 0.3) & (next_strength >= 0.2)
    heard_again = position[again]
    expected = (
        listeners[again],
        want[0][again],
        want[1][again],
        next_strength[again],
        generation[heard_again] + np.int32(1),
        story[heard_again],
    )
    assert again.any()
    assert (~again).any()
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        assert np.array_equal(g, e)


@pytest.mark.parametrize("k", [1, 3])
def test_the_standing_kernel_weighs_customers_as_the_rule_in_numpy(k: int) -> None:
    from cxsim.stages.retention import standing_of

    rng = np.random.default_rng(13)
    n, day, per_year, cap, pull = 2_000, 500, 0.137, 0.61, 0.35
    attitude = rng.normal(0, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 0.3, (k, n)).astype(np.float32)
    join_day = rng.integers(-1000, 600, n).astype(np.int32)  # some join after today: tenure 0
    customers = np.sort(rng.choice(n, 700, replace=False))
    provider = rng.integers(0, k, customers.size).astype(np.int8)
    got = standing_of(
        customers,
        provider,
        join_day,
        attitude,
        episode,
        day,
        per_year,
        cap,
        np.float32(pull),
        k > 1,
    )
    # The rule, as the retention stage wrote it in NumPy before the kernel.
    tenure = np.maximum(day - join_day[customers], 0)
    loyalty = np.minimum(cap, per_year * tenure / 365.0)
    want = attitude[provider, customers] + episode[provider, customers] + loyalty
    if k > 1:
        feelings = attitude[:, customers] + episode[:, customers]
        columns = np.arange(customers.size)
        feelings[provider, columns] = -np.inf
        rival = feelings[np.argmax(feelings, axis=0), columns]
        want -= pull * np.maximum(rival, 0.0)
    assert got.dtype == np.float64
    assert np.array_equal(got, want)


@pytest.mark.parametrize("mixed", [False, True])
def test_the_bass_kernels_adopt_as_the_rule_in_numpy(mixed: bool) -> None:
    from cxsim.stages.retention import bass_choices, bass_hazards, bass_prospects

    rng = np.random.default_rng(14)
    k, n, s, q = 3, 5_000, 0.8, 0.32 / 365
    provider = rng.integers(-1, k, n).astype(np.int8)
    attitude = rng.normal(0.5, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 0.3, (k, n)).astype(np.float32)
    counts = rng.integers(0, 8, (k, n)).astype(np.uint16)
    degree = rng.integers(0, 20, n).astype(np.int32)  # some without contacts
    share = np.bincount(provider[provider >= 0], minlength=k) / n
    drawn = np.sort(rng.choice(n, 1_500, replace=False))
    p = np.array([0.01, 0.03, 0.02]) / 365
    neighbors = attitude[:, :0] if mixed else counts
    prospects, f, choice = bass_prospects(
        drawn, provider, attitude, episode, neighbors, degree, share, mixed
    )
    liking = np.exp(s * choice)
    cumulative = bass_hazards(p, q, f, liking)
    u_choice = rng.random(prospects.size)
    adopts = rng.random(prospects.size) < 0.3
    who, chosen, by_advertising = bass_choices(prospects, adopts, u_choice, cumulative, p, liking)
    # The rule, as the retention stage wrote it in NumPy before the kernels.
    want_prospects = drawn[provider[drawn] == -1]
    want_f = (
        share[:, None]
        if mixed
        else counts[:, want_prospects] / np.maximum(degree[want_prospects], 1)
    )
    want_choice = np.minimum(attitude[:, want_prospects] + episode[:, want_prospects], 1.0)
    want_cumulative = np.cumsum((p[:, None] + q * want_f) * np.exp(s * want_choice), axis=0)
    total = want_cumulative[-1]
    pick = u_choice[adopts] * total[adopts]
    want_chosen = np.minimum((want_cumulative[:, adopts] < pick).sum(axis=0), k - 1).astype(np.int8)
    column = np.flatnonzero(adopts)
    before = np.where(want_chosen > 0, want_cumulative[np.maximum(want_chosen - 1, 0), column], 0.0)
    want_channel = pick - before < p[want_chosen] * liking[want_chosen, column]
    assert np.array_equal(prospects, want_prospects)
    assert np.array_equal(f, np.broadcast_to(want_f, f.shape))
    assert np.array_equal(choice, want_choice)
    assert np.array_equal(cumulative, want_cumulative)
    assert np.array_equal(who, want_prospects[adopts])
    assert np.array_equal(chosen, want_chosen)
    assert np.array_equal(by_advertising, want_channel)
    assert by_advertising.any()
    assert (~by_advertising).any()


@pytest.mark.parametrize(("m", "k", "seed"), [(0, 3, 0), (1, 1, 1), (5_000, 4, 2)])
def test_results_count_adds_as_the_rule_in_numpy(m: int, k: int, seed: int) -> None:
    from cxsim.results import Results

    rng = np.random.default_rng(seed)
    companies = rng.integers(0, k, m).astype(np.int8)
    costs = rng.lognormal(0.0, 2.0, m)  # sums whose order of addition shows in the last bits
    start = rng.normal(0.0, 1e6, k)
    results = Results([f"c{i}" for i in range(k)], 1)
    results.today("churned")[:] = start
    results.today("refund_cost")[:] = start
    counted = results.count("churned", companies, 0.1)
    paid = results.count("refund_cost", companies, costs)
    # The rule, as Results.count wrote it in NumPy before the kernel.
    want_counted = np.bincount(companies, minlength=k)[:k] * 0.1
    want_paid = np.bincount(companies, weights=costs, minlength=k)[:k]
    assert np.array_equal(counted, want_counted)
    assert np.array_equal(paid, want_paid)
    assert np.array_equal(results.today("churned"), start + want_counted)
    assert np.array_equal(results.today("refund_cost"), start + want_paid)
    with pytest.raises(ValueError, match="amounts"):
        results.count("refund_cost", companies, costs[:-1] if m else np.ones(1))


@pytest.mark.parametrize(
    ("n", "k", "seed", "from_prospects"), [(50, 1, 0, True), (3_000, 4, 1, False)]
)
def test_moving_customers_changes_the_columns_as_the_rule_in_numpy(
    n: int, k: int, seed: int, from_prospects: bool
) -> None:
    from cxsim.customers import ISSUE_NONE, PROSPECT
    from cxsim.stages.retention import move_customers

    rng = np.random.default_rng(seed)
    m = random_market(n, k, seed)
    who = rng.choice(n, n // 3, replace=False)
    old = None if from_prospects else m["provider"][who]
    new = rng.integers(-1, k, who.size).astype(np.int8)
    columns = {
        "provider": m["provider"],
        "issue": rng.integers(0, 4, n).astype(np.int8),
        "join_day": m["join_day"],
        "customer_of": rng.integers(0, 2**k, n).astype(np.uint16),
        "attitude": m["attitude"],
        "counts": rng.integers(n, 2 * n, k).astype(np.int64),
    }
    want = {name: column.copy() for name, column in columns.items()}
    day, increment = 17, np.float32(0.3)
    move_customers(
        who,
        np.empty(0, np.int8) if old is None else old,
        new,
        day,
        increment,
        *columns.values(),
    )
    # The rule, as retention.change_provider wrote it in NumPy before the kernel.
    want["provider"][who] = new
    want["issue"][who] = ISSUE_NONE
    joined = new != PROSPECT
    members, company = who[joined], new[joined]
    want["join_day"][members] = day
    want["customer_of"][members] |= np.left_shift(np.uint16(1), company.astype(np.uint16))
    want["attitude"][company, members] += increment
    if old is not None:
        want["counts"] -= np.bincount(old[old != PROSPECT], minlength=k)
    want["counts"] += np.bincount(company, minlength=k)
    for name, column in columns.items():
        assert np.array_equal(column, want[name]), name


@pytest.mark.parametrize(("m", "seed"), [(0, 0), (4_000, 1)])
def test_standing_tickets_are_the_rule_in_numpy(m: int, seed: int) -> None:
    from cxsim.stages.response import valid_tickets

    rng = np.random.default_rng(seed)
    n, k = 500, 1
    issue = rng.integers(0, 4, n).astype(np.int8)
    issue_day = rng.integers(0, 5, n).astype(np.int32)
    provider = rng.integers(-1, 3, n).astype(np.int8)
    customers = rng.integers(0, n, m).astype(np.int32)
    issue_days = rng.integers(0, 5, m).astype(np.int32)
    got = valid_tickets(customers, issue_days, 2, k, issue, issue_day, provider)
    # The rule, as the response stage wrote it in NumPy before the kernel.
    want = (
        (issue[customers] == 2) & (issue_day[customers] == issue_days) & (provider[customers] == k)
    )
    assert np.array_equal(got, want)
    assert m == 0 or 0 < want.sum() < m


@pytest.mark.parametrize("by_tenure", [False, True])
def test_the_buying_kernel_buys_as_the_rule_in_numpy(by_tenure: bool) -> None:
    from cxsim.stages.purchase import buy

    rng = np.random.default_rng(12)
    n, k, day = 3_000, 3, 250
    provider = rng.integers(-1, k, n).astype(np.int8)
    join_day = rng.integers(-900, day + 1, n).astype(np.int32)
    due = np.sort(rng.choice(n, 400, replace=False)).astype(np.int64)
    prices = np.array([10.0, 12.5, 9.99])
    new = np.array([3.0, 2.5, 4.1])
    settling_years = np.array([2.0, 1.5, 3.0])
    table = rng.random((k, 3))
    want_table = table.copy()
    buyers = np.empty(due.size, np.int64)
    company = np.empty(due.size, np.int8)
    exponent = np.empty(due.size if by_tenure else 0)
    m = buy(
        due,
        provider,
        join_day,
        day,
        prices,
        new,
        settling_years,
        by_tenure,
        table[:, 0],
        table[:, 1],
        table[:, 2],
        buyers,
        company,
        exponent,
    )
    buyers, company, exponent = buyers[:m], company[:m], exponent[:m]
    # The rule, as the purchase stage wrote it in NumPy before the kernel.
    want_buyers = due[provider[due] >= 0]
    want_company = provider[want_buyers]
    purchases = np.bincount(want_company, minlength=k) * 1.0
    want_table[:, 0] += purchases
    want_table[:, 1] += purchases * prices
    if not by_tenure:
        want_table[:, 2] += purchases * new
    assert np.array_equal(buyers, want_buyers)
    assert company.dtype == want_company.dtype
    assert np.array_equal(company, want_company)
    assert np.array_equal(table, want_table)
    if by_tenure:
        c = want_company.astype(np.intp)
        tenure_days = day - join_day[want_buyers]
        assert np.array_equal(exponent, tenure_days * (-1.0 / (365.0 * settling_years[c])))
    else:
        assert exponent.size == 0


def test_the_voice_kernel_decides_as_the_rule_in_numpy() -> None:
    from cxsim.rng import Streams
    from cxsim.stages.voice import decide

    rng = np.random.default_rng(13)
    n, k, day = 3_000, 3, 40
    customers = rng.choice(n, 1_000, replace=False).astype(np.int64)
    company = rng.integers(0, k, customers.size).astype(np.int8)
    serious = rng.random(customers.size) < 0.3
    ignored = rng.integers(0, 6, n).astype(np.uint8)
    fatigue = (rng.random(n) * 4).astype(np.float32)
    reach = np.array([0.9, 0.5, 1.0])
    minor, serious_chance, silence, damping = 0.3, 0.8, 0.7, 0.25
    complaints = np.array([1.0, 0.0, 2.0])
    streams, twin = Streams(13), Streams(13)
    complain = np.empty(customers.size, bool)
    complainers = np.empty(customers.size, np.int64)
    complainer_company = np.empty(customers.size, np.int8)
    n_complaints = decide(
        streams.address("voice", day),
        customers,
        company,
        serious,
        ignored,
        fatigue,
        reach,
        minor,
        serious_chance,
        silence,
        damping,
        complaints,
        complain,
        complainers,
        complainer_company,
    )
    # The rule, as the voice stage wrote it in NumPy before the kernel.
    draws = twin("voice", day).random(customers.size)
    base = np.where(serious, serious_chance, minor)
    p = (
        base
        * reach[company.astype(np.intp)]
        * np.power(silence, ignored[customers].astype(np.float64))
        * np.exp(-damping * fatigue[customers].astype(np.float64))
    )
    want = draws < p
    assert 0 < want.sum() < want.size
    assert np.array_equal(complain, want)
    assert n_complaints == want.sum()
    assert np.array_equal(complainers[:n_complaints], customers[want])
    assert np.array_equal(complainer_company[:n_complaints], company[want])
    assert np.array_equal(
        complaints, np.array([1.0, 0.0, 2.0]) + np.bincount(company[want], minlength=k)
    )
