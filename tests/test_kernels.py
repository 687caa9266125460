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


@pytest.mark.parametrize("mixed", [False, True])
def test_the_word_of_mouth_kernel_tells_hears_and_retells_as_the_rule_in_numpy(
    mixed: bool,
) -> None:
    from cxsim.events import TELLABLE, Event
    from cxsim.networks import Network, build
    from cxsim.params import resolve
    from cxsim.results import METRICS
    from cxsim.rng import Streams, bit_generator_address
    from cxsim.stages.word_of_mouth import (
        _COUNT_COLUMNS,
        _HEARD_NEGATIVE,
        _HEARD_POSITIVE,
        _IS_HEARSAY,
        _NO_INDICES,
        _NO_INDPTR,
        _TELL_SIGN,
        first_hand_tellings,
        hear_and_retell,
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
    provider = rng.integers(-1, k, n).astype(np.int8)
    threshold = 0.7
    # Yesterday's retellings: the last company's are the only ones it has.
    e = 200
    earlier = (
        rng.integers(0, n, e),
        np.full(e, k - 1, np.int8),
        rng.choice(np.array([-1, 1], np.int8), e),
        rng.choice(np.array([0.5, 0.25, 0.125], np.float32), e),
        rng.integers(1, 4, e).astype(np.int32),
        rng.integers(0, 10_000, e),
    )
    if mixed:
        net = Network(n=n, kind="fully_mixed")
    else:
        net = build(resolve({"network": {"kind": "random", "mean_degree": 6}}).network, n, rng)
    (p_neg, p_pos, p_prom, r_neg, r_pos) = (0.6, 0.2, 0.3, 0.1, 0.05)
    (a_neg, a_pos, a_retell, p_retell) = (4.0, 2.5, 1.5, 0.3)
    attenuation, min_strength = np.float32(0.5), np.float32(0.2)
    counts = rng.random((k, len(METRICS)))
    ours, theirs = Streams(3)("word_of_mouth", 9), Streams(3)("word_of_mouth", 9)
    keys, weights = tellable_experiences(
        events, customers, companies, strengths, effects, _TELL_SIGN, k
    )
    first_hand, review, told, mean_audience = first_hand_tellings(
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
        p_neg,
        p_pos,
        p_prom,
        r_neg,
        r_pos,
        a_neg,
        a_pos,
        a_retell,
        *earlier,
        1_000,
        bit_generator_address(ours),
    )
    # The rule, as the word-of-mouth stage wrote it in NumPy before the kernels, drawing
    # the same stream in the same order.
    sign = _TELL_SIGN[events.astype(np.intp)]
    ok = sign != 0
    story_keys, inverse = np.unique(customers[ok] * k + companies[ok], return_inverse=True)
    story = np.sign(np.bincount(inverse, weights=effects[events[ok]] * strengths[ok]))
    happy = events == Event.satisfied
    feels = (
        attitude[companies[happy], customers[happy]] + episode[companies[happy], customers[happy]]
    )
    promoter = feels >= threshold
    promoter_keys = customers[happy][promoter] * k + companies[happy][promoter]
    at = np.minimum(np.searchsorted(story_keys, promoter_keys), story_keys.size - 1)
    promoter_keys = promoter_keys[story_keys[at] != promoter_keys]
    assert promoter_keys.size > 0
    promoter_tells = theirs.random(promoter_keys.size) < p_prom
    u = theirs.random(story_keys.size + promoter_tells.sum())
    all_keys = np.concatenate([story_keys, promoter_keys[promoter_tells]])
    all_story = np.concatenate([story, np.ones(promoter_tells.sum())]).astype(np.int8)
    tells = ((all_story < 0) & (u < p_neg)) | ((all_story > 0) & (u < p_pos))
    tells[story_keys.size :] = True
    f = int(tells.sum())
    assert first_hand == f
    reviewed = theirs.random(f) < np.where(all_story[tells] < 0, r_neg, r_pos)
    assert np.array_equal(review, reviewed)
    want = (
        np.concatenate([all_keys[tells] // k, earlier[0]]),
        np.concatenate([(all_keys[tells] % k).astype(np.int8), earlier[1]]),
        np.concatenate([all_story[tells], earlier[2]]),
        np.concatenate([np.ones(f, np.float32), earlier[3]]),
        np.concatenate([np.zeros(f, np.int32), earlier[4]]),
        np.concatenate([1_000 + np.arange(f), earlier[5]]),
    )
    for got, expected in zip(told, want, strict=True):
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected)
    teller, company, sign, strength, generation, story_id = want
    negative = sign < 0
    means = np.where(generation > 0, a_retell, np.where(negative, a_neg, a_pos))
    assert np.array_equal(mean_audience, means)
    audience = ours.poisson(means)
    if mixed:  # the listeners are given
        given = net.sample_listeners(teller, audience, ours)
        rows = (_NO_INDPTR, _NO_INDICES)
    else:  # the kernel draws them
        given = (np.empty(0, np.int64), np.empty(0, np.int64))
        rows = (net.indptr, net.indices)
    got_attitude, got_episode, got_counts = attitude.copy(), episode.copy(), counts.copy()
    heard, listeners, praised, retold = hear_and_retell(
        *rows,
        teller,
        audience,
        *given,
        *told[1:],
        k,
        got_attitude,
        got_episode,
        effects,
        _IS_HEARSAY,
        np.float32(0.1),
        np.float32(0.05),
        got_counts,
        _COUNT_COLUMNS,
        provider,
        True,
        p_retell,
        attenuation,
        min_strength,
        bit_generator_address(ours),
    )
    position, listener = net.sample_listeners(teller, theirs.poisson(means), theirs)
    assert np.array_equal(heard, position)
    assert np.array_equal(listeners, listener)
    heard_company, heard_sign, heard_strength = (
        company[position],
        sign[position],
        strength[position],
    )
    heard_negative = heard_sign < 0
    event = np.where(heard_negative, _HEARD_NEGATIVE, _HEARD_POSITIVE)
    np.add.at(attitude, (heard_company, listener), effects[event] * heard_strength)  # hearsay
    assert np.array_equal(got_attitude, attitude)
    assert np.array_equal(got_episode, episode)
    for columns, companies_, condition in (
        (_COUNT_COLUMNS[:2], company, negative),
        (_COUNT_COLUMNS[2:], heard_company, heard_negative),
    ):
        split = np.bincount(companies_ * 2 + condition, minlength=2 * k).reshape(k, 2)
        counts[:, columns[0]] += split[:, 1]
        counts[:, columns[1]] += split[:, 0]
    assert np.array_equal(got_counts, counts)
    praise = ~heard_negative
    praise[praise] = provider[listener[praise]] == -1
    expected_praise = (listener[praise], heard_company[praise], heard_strength[praise])
    for got, expected in zip(praised, expected_praise, strict=True):
        assert np.array_equal(got, expected)

    next_strength = (heard_strength * attenuation).astype(np.float32)
    again = (theirs.random(position.size) < p_retell) & (next_strength >= min_strength)
    heard_again = position[again]
    expected = (
        listener[again],
        heard_company[again],
        heard_sign[again],
        next_strength[again],
        generation[heard_again] + np.int32(1),
        story_id[heard_again],
    )
    assert again.any()
    assert (~again).any()
    for g, e_ in zip(retold, expected, strict=True):
        assert g.dtype == e_.dtype
        assert np.array_equal(g, e_)
    assert ours.random() == theirs.random()  # the stream is left where NumPy leaves it


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


def bass_market(rng: np.random.Generator, k: int, n: int) -> tuple[np.ndarray, ...]:
    """Providers (-1: prospects), attitudes, episodes, contacts' custom, degrees and shares."""
    provider = rng.integers(-1, k, n).astype(np.int8)
    attitude = rng.normal(0.5, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 0.3, (k, n)).astype(np.float32)
    counts = rng.integers(0, 8, (k, n)).astype(np.uint16)
    degree = rng.integers(0, 20, n).astype(np.int32)  # some without contacts
    share = np.bincount(provider[provider >= 0], minlength=k) / n
    return provider, attitude, episode, counts, degree, share


@pytest.mark.parametrize("mixed", [False, True])
def test_the_bass_kernels_adopt_as_the_rule_in_numpy(mixed: bool) -> None:
    from cxsim.stages.retention import bass_choices, bass_hazards, bass_prospects

    rng = np.random.default_rng(14)
    k, n, s, q = 3, 5_000, 0.8, 0.32 / 365
    provider, attitude, episode, counts, degree, share = bass_market(rng, k, n)
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


@pytest.mark.parametrize("k", [1, 3])
def test_the_leaving_kernel_picks_leavers_as_the_rule_in_numpy(k: int) -> None:
    """Leaving, switching and the luck drawn for everyone due, as the stage wrote it in NumPy."""
    from cxsim.rng import bit_generator_address
    from cxsim.stages.retention import leavers_of_the_day, standing_of

    rng = np.random.default_rng(21)
    n, day, per_year, cap, pull, threshold = 3_000, 400, 0.1, 0.5, 0.3, np.float32(0.3)
    base, top, midpoint, width, interval = 0.05, 2.0, -0.2, 0.25, 0.5
    market = random_market(n, k, 22)
    due = np.sort(rng.choice(n, 900, replace=False))
    ours, theirs = (np.random.Generator(np.random.Philox(key=[5, 6])) for _ in range(2))
    leavers, old, new = leavers_of_the_day(
        bit_generator_address(ours),
        due,
        market["provider"],
        market["join_day"],
        market["attitude"],
        market["episode"],
        day,
        per_year,
        cap,
        np.float32(pull),
        k > 1,
        base,
        top,
        midpoint,
        width,
        interval,
        k > 1,
        threshold,
    )
    # The rule, as the retention stage wrote it in NumPy before the kernel.
    luck = theirs.random(due.size)
    provider = market["provider"][due]
    served = provider >= 0
    candidates, held = due[served], provider[served]
    standing = standing_of(
        candidates,
        held,
        market["join_day"],
        market["attitude"],
        market["episode"],
        day,
        per_year,
        cap,
        np.float32(pull),
        k > 1,
    )
    z = np.minimum(np.maximum((standing - midpoint) / width, -50.0), 50.0)
    hazard = base + top / (1.0 + np.exp(z))
    go = luck[served] < -np.expm1(-hazard * interval)
    want_new = np.full(int(go.sum()), -1, dtype=np.int8)
    if k > 1:
        feelings = market["attitude"][:, candidates[go]] + market["episode"][:, candidates[go]]
        columns = np.arange(want_new.size)
        feelings[held[go], columns] = -np.inf
        best = np.argmax(feelings, axis=0)
        liked = feelings[best, columns] > threshold
        want_new[liked] = best[liked]
    assert 0 < leavers.size < candidates.size
    assert np.array_equal(leavers, candidates[go])
    assert np.array_equal(old, held[go])
    assert np.array_equal(new, want_new)
    assert k == 1 or ((new >= 0).any() and (new < 0).any())
    assert ours.random() == theirs.random()  # the stream is left where NumPy leaves it


@pytest.mark.parametrize("mixed", [False, True])
def test_the_bass_adoption_kernel_adopts_as_the_rule_in_numpy(mixed: bool) -> None:
    """One call: the candidates drawn, the prospects' hazards, the draws and the choices."""
    from cxsim.rng import bernoulli_indices, bit_generator_address
    from cxsim.stages.retention import bass_adopters, bass_choices, bass_hazards, bass_prospects

    rng = np.random.default_rng(23)
    k, n, s, q = 3, 5_000, 0.8, 0.32 / 365
    provider, attitude, episode, counts, degree, share = bass_market(rng, k, n)
    p = np.array([0.01, 0.03, 0.02])
    p_bound = 0.4
    neighbors = attitude[:, :0] if mixed else counts
    ours, theirs = (np.random.Generator(np.random.Philox(key=[7, 8])) for _ in range(2))
    who, chosen, by_advertising = bass_adopters(
        bit_generator_address(ours),
        n,
        p_bound,
        provider,
        attitude,
        episode,
        neighbors,
        degree,
        share,
        mixed,
        p,
        q,
        np.float32(s),
    )
    # The rule, as the retention stage wrote it with NumPy and the smaller kernels before.
    drawn = bernoulli_indices(theirs, n, p_bound)
    prospects, f, choice = bass_prospects(
        drawn, provider, attitude, episode, neighbors, degree, share, mixed
    )
    liking = np.exp(s * choice)
    cumulative = bass_hazards(p, q, f, liking)
    u_adopt, u_choice = theirs.random((2, prospects.size))
    adopts = u_adopt * p_bound < -np.expm1(-cumulative[-1])
    want = bass_choices(prospects, adopts, u_choice, cumulative, p, liking)
    assert 0 < who.size < prospects.size
    assert np.array_equal(who, want[0])
    assert np.array_equal(chosen, want[1])
    assert np.array_equal(by_advertising, want[2])
    assert ours.random() == theirs.random()


@pytest.mark.parametrize(("m", "seed"), [(0, 0), (3_000, 1)])
def test_the_attitude_days_kernel_scales_adds_and_fades_as_the_rule_in_numpy(
    m: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    k, n = 3, 400
    attitude = rng.normal(0, 1, (k, n)).astype(np.float32)
    episode = rng.normal(0, 1, (k, n)).astype(np.float32)
    fatigue = rng.exponential(1.0, n).astype(np.float32)
    events = rng.integers(0, 6, m).astype(np.int8)
    customers = rng.integers(0, n, m)
    companies = rng.integers(0, k, m).astype(np.int8)
    strengths = rng.choice(np.array([1.0, 0.5, 1.7], np.float32), m)
    effects = rng.normal(0, 0.2, 6).astype(np.float32)
    is_hearsay = np.array([False, True, False, False, True, False])
    is_loss_scaled = np.array([True, False, True, False, False, True])
    serious = rng.random(n) < 0.3
    scale, bad, good = np.float32(1.6), np.float32(0.3), np.float32(0.1)
    fading = (np.float32(0.99), np.float32(0.9), np.float32(0.95))
    want = [attitude.copy(), episode.copy(), fatigue.copy(), strengths.copy()]
    attitude_stage.live_the_day(
        events, customers, companies, strengths, effects, is_hearsay, is_loss_scaled,
        serious, scale, bad, good, attitude, episode, fatigue, *fading,
    )  # fmt: skip
    # The rule, as the attitude stage wrote it in NumPy before the kernel.
    want_attitude, want_episode, want_fatigue, want_strengths = want
    want_strengths[is_loss_scaled[events.astype(np.intp)] & serious[customers]] *= scale
    attitude_stage.add_experiences(
        want_attitude, want_episode, events, customers, companies, want_strengths, effects,
        is_hearsay, bad, good,
    )  # fmt: skip
    want_attitude *= fading[0]
    want_episode *= fading[1]
    want_fatigue *= fading[2]
    assert m == 0 or (strengths > 1.7).any()  # some experiences were scaled
    assert np.array_equal(strengths, want_strengths)
    assert np.array_equal(attitude, want_attitude)
    assert np.array_equal(episode, want_episode)
    assert np.array_equal(fatigue, want_fatigue)


def test_the_journey_kernel_keeps_tracked_events_as_the_rule_in_numpy() -> None:
    """Tracked customers' events, in order, until the log is full; a pickled log writes on."""
    import pickle

    from cxsim.events import Event
    from cxsim.journey import JourneyLog

    rng = np.random.default_rng(31)
    n = 500
    tracked = np.sort(rng.choice(n, 60, replace=False))
    log = JourneyLog.of(n, tracked, max_events=150)
    want = []
    for day in range(40):
        customers = rng.integers(0, n, rng.integers(0, 80))
        per_customer = day % 2 == 0
        companies = rng.integers(-1, 3, customers.size).astype(np.int8) if per_customer else 2
        event = Event(day % len(Event))
        log.on_event(day, event, customers, companies)
        if day == 20:
            assert 0 < log.size < 150  # the copy writes on where the log left off
            log = pickle.loads(pickle.dumps(log))
        # The rule, as the log wrote it in NumPy before the kernel.
        keep = np.isin(customers, tracked)
        firms = companies[keep] if per_customer else np.full(int(keep.sum()), companies)
        want += [
            (day, int(c), int(k), int(event)) for c, k in zip(customers[keep], firms, strict=True)
        ]
    kept = log.events[: log.size]
    assert log.size == 150
    assert log.dropped == len(want) - 150
    assert [tuple(int(x) for x in row) for row in kept] == want[:150]


@pytest.mark.parametrize(("hearings", "people"), [(0, 10), (40, 15), (3_000, 400)])
def test_the_referral_kernel_converts_as_the_rule_in_numpy(hearings: int, people: int) -> None:
    """Few and many converts (a sort in the kernel either way), prospects heard several times."""
    from cxsim.rng import bit_generator_address
    from cxsim.stages.retention import referral_adopters

    rng = np.random.default_rng(41)
    prospects = rng.integers(0, people, hearings)
    companies = rng.integers(0, 3, hearings).astype(np.int8)
    strengths = rng.choice(np.array([1.0, 0.5, 0.25], np.float32), hearings)
    provider = np.where(rng.random(people) < 0.2, 1, -1).astype(np.int8)
    ours, theirs = (np.random.Generator(np.random.Philox(key=[9, 10])) for _ in range(2))
    who, chosen = referral_adopters(
        bit_generator_address(ours), 0.6, prospects, companies, strengths, provider
    )
    # The rule, as the retention stage wrote it in NumPy before the kernel.
    chance = 0.6 * strengths.astype(np.float64)
    u = theirs.random(chance.size)
    converts = np.flatnonzero(u < chance)
    heard = prospects[converts]
    order = np.lexsort((u[converts] / chance[converts], heard))
    first = order[np.r_[True, heard[order][1:] != heard[order][:-1]]] if converts.size else order
    want_who, want_chosen = heard[first], companies[converts][first]
    still = provider[want_who] == -1
    assert hearings == 0 or np.unique(heard).size < converts.size  # some heard more than once
    assert np.array_equal(who, want_who[still])
    assert np.array_equal(chosen, want_chosen[still])
    assert ours.random() == theirs.random()


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
    table = rng.random((k, 3))
    want_table = table.copy()
    buyers = np.empty(due.size, np.int64)
    company = np.empty(due.size, np.int8)
    tenure = np.empty(due.size if by_tenure else 0, dtype=np.int64)
    m = buy(
        due,
        provider,
        join_day,
        day,
        prices,
        new,
        by_tenure,
        table[:, 0],
        table[:, 1],
        table[:, 2],
        buyers,
        company,
        tenure,
    )
    buyers, company, tenure = buyers[:m], company[:m], tenure[:m]
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
        assert np.array_equal(tenure, day - join_day[want_buyers])
    else:
        assert tenure.size == 0


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
