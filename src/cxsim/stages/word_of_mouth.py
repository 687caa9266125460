"""Stage 6, word of mouth: stories to contacts, retellings, public reviews (mechanism 6 of docs/ODD.md).

* **Tellers.** A customer whose first-hand experiences today add up to a
  negative story (a problem, an ignored complaint, a broken promise) tells it
  with ``negative_tell_probability``; one whose day adds up to a positive story
  (a fix, refund, goodwill) with ``positive_tell_probability``; a promoter after
  an ordinary good purchase with ``promoter_tell_probability``. Yesterday's
  listeners who chose to retell are tellers too, with attenuated strength.
* **Listeners.** A first-hand teller reaches Poisson(``negative_audience``) or
  Poisson(``positive_audience``) distinct contacts, capped by its number of
  contacts (anyone in the market on a fully mixed network). Each listener's
  attitude toward the company moves by the story effect times its strength and
  passes it on tomorrow with ``retell_probability`` at ``hearsay_attenuation``
  times the strength, while the strength stays above ``min_strength``.
* **Hearsay is weaker than first-hand.** A listener who passes a story on
  reaches Poisson(``retell_audience``) contacts, fewer than someone telling
  their own experience, whatever the story's sign. Each hearing is passed on to
  ``retell_probability x retell_audience`` people on average (0.2 by default),
  so a story's reach over all generations is finite and close to its
  first-hand audience: on a fully mixed market, first-hand audience x
  (1 + m + m^2 + ... + m^G) with m = 0.2 and G = 3 generations of retelling
  (strengths 1/2, 1/4, 1/8 at the defaults), about 1.25 x the first-hand
  audience. Reach per first-hand story is measured by
  :class:`cxsim.reach.WordOfMouthReach`.
* **Praise heard by prospects.** Prospects who hear a contact praise a
  company (first-hand or retold) are handed to the retention stage, where they
  may adopt it by referral (``market.referral_probability``). Review readers
  are not: a review is not a referral.
* **Reviews.** A first-hand teller also posts a public review with the review
  probability. A review reaches Poisson(``review_readers``) people anywhere in
  the market, moving them by ``review_effect`` times a story's effect; readers
  who already feel the same way chime in with a review of their own tomorrow.
  Negative reviews are handed to the response stage, where companies that
  listen to reviews answer them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.customers import PROSPECT
from cxsim.events import TELLABLE, Event
from cxsim.networks import listeners_in_rows
from cxsim.results import METRIC_INDEX
from cxsim.rng import bit_generator_address, generator_at, poisson_draws
from cxsim.stages import attitude

if TYPE_CHECKING:
    from cxsim.model import Market

_TELL_SIGN = np.zeros(len(Event), dtype=np.int8)
for _event, _sign in TELLABLE.items():
    _TELL_SIGN[_event] = _sign
_HEARD_NEGATIVE, _HEARD_POSITIVE = np.int8(Event.heard_negative), np.int8(Event.heard_positive)
_SATISFIED = int(Event.satisfied)
_COUNT_COLUMNS = np.array(
    [
        METRIC_INDEX[metric]
        for metric in ("negative_tellers", "positive_tellers", "wom_negative", "wom_positive")
    ],
    dtype=np.int64,
)
_IS_HEARSAY = attitude._IS_HEARSAY
_NO_INDPTR = np.zeros(0, dtype=np.int64)  # the rows of a fully mixed network
_NO_INDICES = np.zeros(0, dtype=np.int32)
_NO_INDPTR.flags.writeable = False  # read-only like a network's rows: one compiled version
_NO_INDICES.flags.writeable = False
_NO_LISTENERS = np.zeros(0, dtype=np.int64)  # listeners the kernel draws
_add_experiences = attitude.add_experiences


def _none(dtype: type = np.int64) -> np.ndarray:
    return np.empty(0, dtype=dtype)


@dataclass(eq=False)
class Tellings:
    """Stories told on one day, one entry per telling.

    Attributes:
        teller: who tells.
        company: the company the story is about (int8).
        sign: -1 for an unhappy story, +1 for a happy one (int8).
        strength: how much it moves a listener, relative to a first-hand story (float32).
        generation: 0 for a first-hand story, g for its g-th retelling (int32).
        story: id of the first-hand story it comes from; ids count up over the run (int64).

    """

    teller: np.ndarray = field(default_factory=_none)
    company: np.ndarray = field(default_factory=lambda: _none(np.int8))
    sign: np.ndarray = field(default_factory=lambda: _none(np.int8))
    strength: np.ndarray = field(default_factory=lambda: _none(np.float32))
    generation: np.ndarray = field(default_factory=lambda: _none(np.int32))
    story: np.ndarray = field(default_factory=_none)

    def __len__(self) -> int:
        return int(self.teller.size)

    def select(self, which: np.ndarray) -> Tellings:
        """The tellings at ``which`` (a mask or indices)."""
        return Tellings(*(getattr(self, f)[which] for f in _TELLING_FIELDS))


_TELLING_FIELDS = tuple(Tellings.__dataclass_fields__)


@dataclass(eq=False)
class WordOfMouthDay:
    """What was said today, for observers (see :class:`cxsim.reach.WordOfMouthReach`).

    The stage only keeps references to arrays it made anyway, so the record costs nothing
    when nobody reads it.

    Attributes:
        tellings: today's tellings, first-hand stories first, then retellings.
        telling: per hearing, the index of the telling heard (into ``tellings``).
        listener: per hearing, who heard it.
        review_company: per review posted today, the company it is about.
        review_sign: per review posted today, -1 unhappy or +1 happy.
        review_readers: per review posted today, how many people read it.

    """

    tellings: Tellings
    telling: np.ndarray
    listener: np.ndarray
    review_company: np.ndarray = field(default_factory=lambda: _none(np.int8))
    review_sign: np.ndarray = field(default_factory=lambda: _none(np.int8))
    review_readers: np.ndarray = field(default_factory=_none)


@dataclass(eq=False)
class Backlog:
    """Word of mouth carried to the next day: retellings, chime-in reviews, reviews to answer."""

    retellings: Tellings = field(default_factory=Tellings)
    review_customers: np.ndarray = field(default_factory=_none)
    review_company: np.ndarray = field(default_factory=lambda: _none(np.int8))
    review_sign: np.ndarray = field(default_factory=lambda: _none(np.int8))
    answer_customers: np.ndarray = field(default_factory=_none)
    answer_company: np.ndarray = field(default_factory=lambda: _none(np.int8))
    stories_told: int = 0

    def answers_for(self, company: int) -> np.ndarray:
        """Authors of yesterday's negative reviews about ``company``."""
        return self.answer_customers[self.answer_company == company]


def init(model: Market) -> None:
    """Nothing is being retold, and no review waits for an answer, on day 0."""
    model.backlog = Backlog()


def step(model: Market) -> None:
    """Tell, listen, retell, review."""
    rng = model.streams("word_of_mouth", model.day)
    backlog = model.backlog
    first_hand, review, tellings, retellings, heard, listeners = speak(
        model, rng, model.today.first_hand(), backlog.retellings, backlog.stories_told
    )
    stories_told = backlog.stories_told + first_hand
    if not (review.any() or backlog.review_customers.size):  # most days of a small market
        model.today.word_of_mouth = WordOfMouthDay(tellings, heard, listeners)
        model.backlog = Backlog(retellings, stories_told=stories_told)
        return
    who, company, sign = tellings.teller[:first_hand], tellings.company, tellings.sign
    reviewers = np.concatenate([who[review], backlog.review_customers])
    review_company = np.concatenate([company[:first_hand][review], backlog.review_company])
    review_sign = np.concatenate([sign[:first_hand][review], backlog.review_sign])
    chime_in, readers = publish(model, rng, reviewers, review_company, review_sign)
    model.today.word_of_mouth = WordOfMouthDay(
        tellings, heard, listeners, review_company, review_sign, readers
    )

    negative = review_sign < 0
    model.backlog = Backlog(
        retellings,
        *chime_in,
        answer_customers=reviewers[negative],
        answer_company=review_company[negative],
        stories_told=stories_told,
    )


def speak(
    model: Market,
    rng: np.random.Generator,
    experiences: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    earlier: Tellings,
    stories_told: int,
) -> tuple[int, np.ndarray, Tellings, Tellings, np.ndarray, np.ndarray]:
    """Today's tellings, from today's first-hand ``experiences`` and the ``earlier`` retellings.

    Draws from ``rng`` (in :func:`first_hand_tellings`, then the audiences and listeners in
    NumPy, then in :func:`hear_and_retell`), moves the listeners' attitudes, counts tellers
    and hearings, and hands praised prospects to the retention stage.

    Returns:
        How many first-hand stories are told (the first tellings), whether each is also
        reviewed, today's tellings, tomorrow's retellings, and per hearing the index of the
        telling heard and the listener.

    """
    pars = model.params.behaviour.word_of_mouth
    events, customers, companies, strengths = experiences
    c = model.customers
    k = len(model.companies)
    # A day with several experiences makes one story, whose sign is that of their net effect.
    keys, weights = tellable_experiences(
        events, customers, companies, strengths, model.effects, _TELL_SIGN, k
    )
    address = bit_generator_address(rng)  # the kernels draw from rng itself, in order
    first_hand, review, told, mean_audience = first_hand_tellings(
        keys,
        weights,
        np.argsort(keys, kind="stable"),
        events,
        customers,
        companies,
        k,
        c.attitude,
        c.episode,
        np.float32(model.params.behaviour.attitude.promoter_threshold),
        pars.negative_tell_probability,
        pars.positive_tell_probability,
        pars.promoter_tell_probability,
        pars.negative_review_probability,
        pars.positive_review_probability,
        pars.negative_audience,
        pars.positive_audience,
        pars.retell_audience,
        earlier.teller,
        earlier.company,
        earlier.sign,
        earlier.strength,
        earlier.generation,
        earlier.story,
        stories_told,
        address,
    )
    tellings = Tellings(*told)
    # Audiences (and a fully mixed market's listeners) are drawn in NumPy: Numba's Poisson and
    # bounded integers would add seconds to compiling the kernels on a fresh install.
    audience = poisson_draws(rng, mean_audience)
    network = model.network
    if network.fully_mixed:
        heard, listeners = network.sample_listeners(tellings.teller, audience, rng)
        indptr, indices = _NO_INDPTR, _NO_INDICES
    else:  # drawn in the kernel
        heard, listeners = _NO_LISTENERS, _NO_LISTENERS
        indptr, indices = network.indptr, network.indices
    bad_share, good_share = model.lasting_shares
    praise = model.params.market.referral_probability > 0
    heard, listeners, praised, retold = hear_and_retell(
        indptr,
        indices,
        tellings.teller,
        audience,
        heard,
        listeners,
        tellings.company,
        tellings.sign,
        tellings.strength,
        tellings.generation,
        tellings.story,
        k,
        c.attitude,
        c.episode,
        model.effects,
        _IS_HEARSAY,
        bad_share,
        good_share,
        model.results.table_today,
        _COUNT_COLUMNS,
        c.provider,
        praise,
        pars.retell_probability,
        np.float32(pars.hearsay_attenuation),
        np.float32(pars.min_strength),
        address,
    )
    if praise:
        today = model.today
        today.praised_prospects, today.praised_company, today.praise_strength = praised
    if model.listens(Event.told_negative):
        negative = tellings.sign < 0
        listener_company = tellings.company[heard]
        heard_negative = tellings.sign[heard] < 0
        model.log(Event.told_negative, tellings.teller, tellings.company, where=negative)
        model.log(Event.told_positive, tellings.teller, tellings.company, where=~negative)
        model.log(Event.heard_negative, listeners, listener_company, where=heard_negative)
        model.log(Event.heard_positive, listeners, listener_company, where=~heard_negative)
    return first_hand, review, tellings, Tellings(*retold), heard, listeners


@numba.njit(cache=True, nogil=True)
def tellable_experiences(
    events: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    strengths: np.ndarray,
    effects: np.ndarray,
    tell_sign: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Today's experiences that make a story (``tell_sign != 0``), in order.

    Returns:
        Their keys ``customer x k + company``, and their effects ``effects[event] x strength``
        (a float32 product, as float64).

    """
    keys = np.empty(events.size, dtype=np.int64)
    weights = np.empty(events.size, dtype=np.float64)
    t = 0
    for i in range(events.size):
        if tell_sign[events[i]] != 0:
            keys[t] = customers[i] * k + companies[i]
            weights[t] = np.float64(effects[events[i]] * strengths[i])
            t += 1
    return keys[:t], weights[:t]


@numba.njit(cache=True, nogil=True)
def first_hand_tellings(
    keys: np.ndarray,
    weights: np.ndarray,
    order: np.ndarray,
    events: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    k: int,
    attitude: np.ndarray,
    episode: np.ndarray,
    promoter_threshold: np.float32,
    negative_tell_probability: float,
    positive_tell_probability: float,
    promoter_tell_probability: float,
    negative_review_probability: float,
    positive_review_probability: float,
    negative_audience: float,
    positive_audience: float,
    retell_audience: float,
    earlier_teller: np.ndarray,
    earlier_company: np.ndarray,
    earlier_sign: np.ndarray,
    earlier_strength: np.ndarray,
    earlier_generation: np.ndarray,
    earlier_story: np.ndarray,
    stories_told: int,
    address: int,
) -> tuple:
    """Today's tellings: who tells a story of their own, then the ``earlier`` retellings.

    Draws from the stream at ``address``, in this order:

    1. **Stories.** One per key (customer and company) of the tellable experiences
       (``order`` sorts ``keys`` stably), in key order: its sign is that of the net effect,
       the sum of the experiences' ``weights`` in float64 in the order they happened (a sign
       of 0 is never told). **Promoters:** a customer with a ``satisfied`` experience who
       feels at least ``promoter_threshold`` about the company and has no story about it
       today, in the order of the experiences; each tells with ``promoter_tell_probability``
       (one uniform each, drawn first).
    2. **Tellers.** Story ``i`` is told when its uniform (one per story, then one per telling
       promoter, unused) is below its sign's tell probability. The first-hand tellings are
       the told stories, then the telling promoters with a happy story: strength 1,
       generation 0, story ids from ``stories_told`` on. Each is also reviewed when a uniform
       is below its sign's review probability.

    Returns:
        (how many first-hand tellings, reviewed per first-hand telling, today's tellings
        (first-hand, then ``earlier``) as the fields of :class:`Tellings`, and each one's
        mean audience: ``retell_audience`` for a retelling (generation > 0), else
        ``negative_audience`` or ``positive_audience`` by sign).

    """
    rng = generator_at(address)
    t = keys.size
    uniq = np.empty(t, dtype=np.int64)
    story = np.empty(t, dtype=np.int8)
    n_stories = 0
    j = 0
    while j < t:
        key = keys[order[j]]
        net = 0.0
        while j < t and keys[order[j]] == key:
            net += weights[order[j]]
            j += 1
        uniq[n_stories] = key
        story[n_stories] = 1 if net > 0 else (-1 if net < 0 else 0)
        n_stories += 1
    promoters = np.empty(events.size, dtype=np.int64)
    n_promoters = 0
    for i in range(events.size):
        if events[i] != _SATISFIED:
            continue
        person, company = customers[i], companies[i]
        if attitude[company, person] + episode[company, person] < promoter_threshold:
            continue
        key = person * k + company
        low, high = 0, n_stories  # is key a story's? (binary search of the sorted keys)
        while low < high:
            mid = (low + high) // 2
            if uniq[mid] < key:
                low = mid + 1
            else:
                high = mid
        if low < n_stories and uniq[low] == key:
            continue
        promoters[n_promoters] = key
        n_promoters += 1
    promoter_tells = np.empty(n_promoters, dtype=np.bool_)
    telling_promoters = 0
    for i in range(n_promoters):
        promoter_tells[i] = rng.random() < promoter_tell_probability
        telling_promoters += promoter_tells[i]
    m = n_stories + n_promoters + earlier_teller.size
    teller = np.empty(m, dtype=np.int64)
    company_of = np.empty(m, dtype=np.int8)
    sign = np.empty(m, dtype=np.int8)
    t = 0
    for i in range(n_stories):
        s = story[i]
        u = rng.random()
        if (s < 0 and u < negative_tell_probability) or (s > 0 and u < positive_tell_probability):
            teller[t], company_of[t], sign[t] = uniq[i] // k, uniq[i] % k, s
            t += 1
    for _ in range(telling_promoters):
        rng.random()  # drawn with the stories' uniforms, never used
    for i in range(n_promoters):
        if promoter_tells[i]:
            teller[t], company_of[t], sign[t] = promoters[i] // k, promoters[i] % k, 1
            t += 1
    first_hand = t
    review = np.empty(first_hand, dtype=np.bool_)
    for i in range(first_hand):
        p = negative_review_probability if sign[i] < 0 else positive_review_probability
        review[i] = rng.random() < p
    m = first_hand + earlier_teller.size
    teller, company_of, sign = teller[:m], company_of[:m], sign[:m]
    strength = np.ones(m, dtype=np.float32)
    generation = np.zeros(m, dtype=np.int32)
    story_id = np.empty(m, dtype=np.int64)
    for i in range(first_hand):
        story_id[i] = stories_told + i
    for i in range(earlier_teller.size):
        teller[first_hand + i] = earlier_teller[i]
        company_of[first_hand + i] = earlier_company[i]
        sign[first_hand + i] = earlier_sign[i]
        strength[first_hand + i] = earlier_strength[i]
        generation[first_hand + i] = earlier_generation[i]
        story_id[first_hand + i] = earlier_story[i]
    mean_audience = np.empty(m, dtype=np.float64)
    for i in range(m):
        if generation[i] > 0:
            mean_audience[i] = retell_audience
        else:
            mean_audience[i] = negative_audience if sign[i] < 0 else positive_audience
    return (
        first_hand,
        review,
        (teller, company_of, sign, strength, generation, story_id),
        mean_audience,
    )


@numba.njit(cache=True, nogil=True)
def hear_and_retell(
    indptr: np.ndarray,
    indices: np.ndarray,
    teller: np.ndarray,
    audience: np.ndarray,
    heard: np.ndarray,
    listeners: np.ndarray,
    company: np.ndarray,
    sign: np.ndarray,
    strength: np.ndarray,
    generation: np.ndarray,
    story: np.ndarray,
    k: int,
    attitude: np.ndarray,
    episode: np.ndarray,
    effects: np.ndarray,
    is_hearsay: np.ndarray,
    bad_share: np.float32,
    good_share: np.float32,
    counts: np.ndarray,
    count_columns: np.ndarray,
    provider: np.ndarray,
    praise: bool,
    retell_probability: float,
    attenuation: np.float32,
    min_strength: np.float32,
    address: int,
) -> tuple:
    """Who hears today's tellings, what they heard, and tomorrow's retellings.

    Draws from the stream at ``address``, in this order:

    * **Listeners.** On a network's rows (``indptr``, ``indices``), the rule of
      :meth:`cxsim.networks.Network.sample_listeners`: one uniform per teller, then each
      ``teller`` reaches up to ``audience`` consecutive contacts of its row
      (:func:`cxsim.networks.listeners_in_rows`). On a fully mixed network (``indptr``
      empty) they are given: per hearing, the telling ``heard`` and the ``listeners``.
    * **Hearings.** Hearing ``h`` is of telling ``heard[h]`` (of the tellings ``company``,
      ``sign``, ...): its company, sign and strength, the event ``heard_negative`` (sign < 0)
      or ``heard_positive``, added to attitudes in order by
      :func:`cxsim.stages.attitude.add_experiences`. Per company, the tellings and the
      hearings of each sign are added to ``counts`` (today's results) in the columns
      ``count_columns``: negative tellers, positive tellers, negative hearings, positive
      hearings. With ``praise``, the hearings of a happy story by a prospect
      (``provider = -1``) are the candidates for adoption by referral.
    * **Retellings.** Listener ``h`` passes the story on tomorrow when a uniform (one per
      hearing, in order) is below ``retell_probability`` and the attenuated strength
      ``strength x attenuation`` (float32) is at least ``min_strength``: same company, sign
      and story, one generation more.

    Returns:
        (per hearing, the index of the telling heard and the listener; (prospects, companies,
        strengths) of praise heard; tomorrow's retellings as the fields of :class:`Tellings`).

    """
    rng = generator_at(address)
    if indptr.size:
        u = np.empty(teller.size)
        for j in range(teller.size):
            u[j] = rng.random()
        heard, listeners = listeners_in_rows(indptr, indices, teller, audience, u)
    m = heard.size
    heard_company = np.empty(m, dtype=np.int8)
    heard_strength = np.empty(m, dtype=np.float32)
    event = np.empty(m, dtype=np.int8)
    told = np.zeros((k, 2), dtype=np.int64)
    hearings = np.zeros((k, 2), dtype=np.int64)
    for j in range(company.size):
        told[company[j], 1 if sign[j] < 0 else 0] += 1
    n_praised = 0
    praised_who = np.empty(m if praise else 0, dtype=np.int64)
    praised_company = np.empty(m if praise else 0, dtype=np.int8)
    praised_strength = np.empty(m if praise else 0, dtype=np.float32)
    for h in range(m):
        j = heard[h]
        heard_company[h] = company[j]
        heard_strength[h] = strength[j]
        negative = sign[j] < 0
        event[h] = _HEARD_NEGATIVE if negative else _HEARD_POSITIVE
        hearings[company[j], 1 if negative else 0] += 1
        if praise and not negative and provider[listeners[h]] == PROSPECT:
            praised_who[n_praised] = listeners[h]
            praised_company[n_praised] = company[j]
            praised_strength[n_praised] = strength[j]
            n_praised += 1
    _add_experiences(
        attitude,
        episode,
        event,
        listeners,
        heard_company,
        heard_strength,
        effects,
        is_hearsay,
        bad_share,
        good_share,
    )
    for c in range(k):
        counts[c, count_columns[0]] += told[c, 1]
        counts[c, count_columns[1]] += told[c, 0]
        counts[c, count_columns[2]] += hearings[c, 1]
        counts[c, count_columns[3]] += hearings[c, 0]
    retold = np.empty(m, dtype=np.bool_)
    n = 0
    for h in range(m):
        retold[h] = rng.random() < retell_probability and (
            heard_strength[h] * attenuation >= min_strength
        )
        n += retold[h]
    teller = np.empty(n, dtype=np.int64)
    out_company = np.empty(n, dtype=np.int8)
    out_sign = np.empty(n, dtype=np.int8)
    out_strength = np.empty(n, dtype=np.float32)
    out_generation = np.empty(n, dtype=np.int32)
    out_story = np.empty(n, dtype=np.int64)
    r = 0
    for h in range(m):
        if retold[h]:
            j = heard[h]
            teller[r] = listeners[h]
            out_company[r] = company[j]
            out_sign[r] = sign[j]
            out_strength[r] = heard_strength[h] * attenuation
            out_generation[r] = generation[j] + 1
            out_story[r] = story[j]
            r += 1
    return (
        heard,
        listeners,
        (praised_who[:n_praised], praised_company[:n_praised], praised_strength[:n_praised]),
        (teller, out_company, out_sign, out_strength, out_generation, out_story),
    )


def publish(
    model: Market,
    rng: np.random.Generator,
    reviewers: np.ndarray,
    company: np.ndarray,
    sign: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Post reviews; readers anywhere are moved.

    Returns:
        Tomorrow's chime-in reviews (authors, companies, signs), and the readers of each review.

    """
    if reviewers.size == 0:
        return (reviewers, company, sign), _none()
    pars = model.params.behaviour.word_of_mouth
    n = model.customers.n
    model.results.count("reviews", company)
    model.log(Event.review_posted, reviewers, company)
    readers_per_review = rng.poisson(pars.review_readers, size=reviewers.size)
    position = np.repeat(np.arange(reviewers.size), readers_per_review)
    readers = rng.integers(0, n, size=position.size)
    read_company = company[position]
    read_sign = sign[position]
    event = np.where(read_sign < 0, _HEARD_NEGATIVE, _HEARD_POSITIVE)
    strength = np.full(readers.size, pars.review_effect, dtype=np.float32)
    attitude.apply(model, event, readers, read_company, strength)
    model.log(Event.review_read, readers, read_company)

    feels = attitude.felt(model, read_company.astype(np.intp), readers)
    agrees = np.sign(feels) == read_sign
    joins = agrees & (rng.random(readers.size) < pars.chime_in_probability)
    # One review per person and company per day.
    candidates = np.flatnonzero(joins)
    k = len(model.companies)
    _, first = np.unique(
        readers[candidates] * k + read_company[candidates].astype(np.int64), return_index=True
    )
    idx = candidates[first]
    return (readers[idx], read_company[idx], read_sign[idx]), readers_per_review
