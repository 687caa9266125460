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
from cxsim.rng import poisson_draws
from cxsim.stages import attitude

if TYPE_CHECKING:
    from cxsim.model import Market

_TELL_SIGN = np.zeros(len(Event), dtype=np.int8)
for _event, _sign in TELLABLE.items():
    _TELL_SIGN[_event] = _sign
_HEARD_NEGATIVE, _HEARD_POSITIVE = np.int8(Event.heard_negative), np.int8(Event.heard_positive)
_SATISFIED = int(Event.satisfied)


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

    def then(self, later: Tellings) -> Tellings:
        """These tellings followed by ``later``'s (one of the two when the other is empty)."""
        if not len(later):
            return self
        if not len(self):
            return later
        return Tellings(
            *(np.concatenate([getattr(self, f), getattr(later, f)]) for f in _TELLING_FIELDS)
        )


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
    pars = model.params.behaviour.word_of_mouth
    backlog = model.backlog

    who, company, sign = first_hand_stories(model, rng)
    review = rng.random(who.size) < np.where(
        sign < 0, pars.negative_review_probability, pars.positive_review_probability
    )

    first_hand = Tellings(
        teller=who,
        company=company,
        sign=sign,
        strength=np.ones(who.size, dtype=np.float32),
        generation=np.zeros(who.size, dtype=np.int32),
        story=backlog.stories_told + np.arange(who.size, dtype=np.int64),
    )
    tellings = first_hand.then(backlog.retellings)
    retellings, heard, listeners = spread(model, rng, tellings)

    if not (review.any() or backlog.review_customers.size):  # most days of a small market
        model.today.word_of_mouth = WordOfMouthDay(tellings, heard, listeners)
        model.backlog = Backlog(retellings, stories_told=backlog.stories_told + who.size)
        return
    reviewers = np.concatenate([who[review], backlog.review_customers])
    review_company = np.concatenate([company[review], backlog.review_company])
    review_sign = np.concatenate([sign[review], backlog.review_sign])
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
        stories_told=backlog.stories_told + who.size,
    )


def first_hand_stories(
    model: Market, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who tells a story of their own today: customers, companies, signs (-1 unhappy, +1 happy)."""
    pars = model.params.behaviour.word_of_mouth
    events, customers, companies, strengths = model.today.first_hand()
    c = model.customers
    k = len(model.companies)
    # A day with several experiences makes one story, whose sign is that of their net effect;
    # promoters tell about an ordinary good purchase, unless they have a story of their own.
    keys, weights = tellable_experiences(
        events, customers, companies, strengths, model.effects, _TELL_SIGN, k
    )
    keys, story, promoter_keys = day_stories(
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
    )
    promoter_tells = rng.random(promoter_keys.size) < pars.promoter_tell_probability
    u = rng.random(keys.size + int(np.count_nonzero(promoter_tells)))
    return choose_tellers(
        keys,
        story,
        promoter_keys,
        promoter_tells,
        u,
        pars.negative_tell_probability,
        pars.positive_tell_probability,
        k,
    )


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
def day_stories(
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Today's candidate stories, from the tellable experiences and the satisfied customers.

    * One story per key (customer and company) of the tellable experiences (``order`` sorts
      ``keys`` stably): its sign is that of the net effect, the sum of the experiences'
      ``weights`` in float64 in the order they happened; a sign of 0 is kept (never told).
    * Promoters: a customer with a ``satisfied`` experience who feels at least
      ``promoter_threshold`` about the company, and has no story of its own about it today,
      in the order of the experiences.

    Returns:
        (sorted story keys, their signs (int8), promoter keys).

    """
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
    return uniq[:n_stories], story[:n_stories], promoters[:n_promoters]


@numba.njit(cache=True, nogil=True)
def choose_tellers(
    keys: np.ndarray,
    story: np.ndarray,
    promoter_keys: np.ndarray,
    promoter_tells: np.ndarray,
    u: np.ndarray,
    negative_tell_probability: float,
    positive_tell_probability: float,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who tells a story of their own today.

    Story ``i`` is told when ``u[i]`` is below its sign's tell probability (a sign of 0
    never is); then every promoter who tells (already drawn), each with a happy story.

    Returns:
        Tellers, companies (int8) and signs (int8), stories first, then promoters.

    """
    n = keys.size + promoter_keys.size
    who = np.empty(n, dtype=np.int64)
    company = np.empty(n, dtype=np.int8)
    sign = np.empty(n, dtype=np.int8)
    t = 0
    for i in range(keys.size):
        s = story[i]
        if (s < 0 and u[i] < negative_tell_probability) or (
            s > 0 and u[i] < positive_tell_probability
        ):
            who[t], company[t], sign[t] = keys[i] // k, keys[i] % k, s
            t += 1
    for i in range(promoter_keys.size):
        if promoter_tells[i]:
            who[t], company[t], sign[t] = promoter_keys[i] // k, promoter_keys[i] % k, 1
            t += 1
    return who[:t], company[:t], sign[:t]


def spread(
    model: Market, rng: np.random.Generator, tellings: Tellings
) -> tuple[Tellings, np.ndarray, np.ndarray]:
    """Tellers tell their contacts.

    Returns:
        Tomorrow's retellings, and per hearing today the index of the telling heard and the listener.

    """
    pars = model.params.behaviour.word_of_mouth
    res = model.results
    company, sign = tellings.company, tellings.sign
    negative = sign < 0
    # Hearsay is told to fewer people than one's own experience, whatever its sign.
    mean_audience = np.where(
        tellings.generation > 0,
        pars.retell_audience,
        np.where(negative, pars.negative_audience, pars.positive_audience),
    )
    audience = poisson_draws(rng, mean_audience)
    position, listeners = model.network.sample_listeners(tellings.teller, audience, rng)
    praise = model.params.market.referral_probability > 0
    heard, told, heard_counts, praised = hearings(
        position,
        listeners,
        company,
        sign,
        tellings.strength,
        len(model.companies),
        model.customers.provider,
        praise,
    )
    listener_company, listener_sign, listener_strength, event = heard
    attitude.apply(model, event, listeners, listener_company, listener_strength)
    if praise:
        today = model.today
        today.praised_prospects, today.praised_company, today.praise_strength = praised

    for metrics, counts in (
        (("negative_tellers", "positive_tellers"), told),
        (("wom_negative", "wom_positive"), heard_counts),
    ):
        res.today(metrics[0])[:] += counts[:, 1]
        res.today(metrics[1])[:] += counts[:, 0]
    if model.listens(Event.told_negative):
        heard_negative = listener_sign < 0
        model.log(Event.told_negative, tellings.teller, company, where=negative)
        model.log(Event.told_positive, tellings.teller, company, where=~negative)
        model.log(Event.heard_negative, listeners, listener_company, where=heard_negative)
        model.log(Event.heard_positive, listeners, listener_company, where=~heard_negative)

    retellings = Tellings(
        *retell(
            position,
            listeners,
            listener_company,
            listener_sign,
            listener_strength,
            rng.random(listeners.size),
            pars.retell_probability,
            np.float32(pars.hearsay_attenuation),
            np.float32(pars.min_strength),
            tellings.generation,
            tellings.story,
        )
    )
    return retellings, position, listeners


@numba.njit(cache=True, nogil=True)
def hearings(
    position: np.ndarray,
    listeners: np.ndarray,
    company: np.ndarray,
    sign: np.ndarray,
    strength: np.ndarray,
    k: int,
    provider: np.ndarray,
    praise: bool,
) -> tuple:
    """What each listener heard, and the day's counts of tellers and hearings.

    Hearing ``h`` is of telling ``position[h]``: its company, sign and strength, and the
    event ``heard_negative`` (sign < 0) or ``heard_positive``. Counted per company, as
    (positive, negative), of ``k`` companies: tellings, and hearings. With ``praise``, the hearings of a happy
    story by a prospect (``provider = -1``): the candidates for adoption by referral.

    Returns:
        (company, sign, strength, event) per hearing; tellings per company and sign;
        hearings per company and sign; (prospects, companies, strengths) of praise heard.

    """
    m = position.size
    heard_company = np.empty(m, dtype=np.int8)
    heard_sign = np.empty(m, dtype=np.int8)
    heard_strength = np.empty(m, dtype=np.float32)
    event = np.empty(m, dtype=np.int8)
    told = np.zeros((k, 2), dtype=np.int64)
    heard = np.zeros((k, 2), dtype=np.int64)
    for j in range(company.size):
        told[company[j], 1 if sign[j] < 0 else 0] += 1
    n_praised = 0
    praised_who = np.empty(m if praise else 0, dtype=np.int64)
    praised_company = np.empty(m if praise else 0, dtype=np.int8)
    praised_strength = np.empty(m if praise else 0, dtype=np.float32)
    for h in range(m):
        j = position[h]
        heard_company[h] = company[j]
        heard_sign[h] = sign[j]
        heard_strength[h] = strength[j]
        negative = sign[j] < 0
        event[h] = _HEARD_NEGATIVE if negative else _HEARD_POSITIVE
        heard[company[j], 1 if negative else 0] += 1
        if praise and not negative and provider[listeners[h]] == PROSPECT:
            praised_who[n_praised] = listeners[h]
            praised_company[n_praised] = company[j]
            praised_strength[n_praised] = strength[j]
            n_praised += 1
    return (
        (heard_company, heard_sign, heard_strength, event),
        told,
        heard,
        (
            praised_who[:n_praised],
            praised_company[:n_praised],
            praised_strength[:n_praised],
        ),
    )


@numba.njit(cache=True, nogil=True)
def retell(
    position: np.ndarray,
    listeners: np.ndarray,
    company: np.ndarray,
    sign: np.ndarray,
    strength: np.ndarray,
    u: np.ndarray,
    retell_probability: float,
    attenuation: np.float32,
    min_strength: np.float32,
    generation: np.ndarray,
    story: np.ndarray,
) -> tuple:
    """Tomorrow's retellings, from today's hearings.

    Listener ``h`` passes the story on when ``u[h] < retell_probability`` and the attenuated
    strength ``strength[h] x attenuation`` (float32) is at least ``min_strength``.

    Returns:
        The fields of :class:`Tellings`: teller, company, sign, strength, generation (one more
        than the telling heard), story.

    """
    n = 0
    for h in range(u.size):
        if u[h] < retell_probability and strength[h] * attenuation >= min_strength:
            n += 1
    teller = np.empty(n, dtype=np.int64)
    out_company = np.empty(n, dtype=np.int8)
    out_sign = np.empty(n, dtype=np.int8)
    out_strength = np.empty(n, dtype=np.float32)
    out_generation = np.empty(n, dtype=np.int32)
    out_story = np.empty(n, dtype=np.int64)
    r = 0
    for h in range(u.size):
        weaker = strength[h] * attenuation
        if u[h] < retell_probability and weaker >= min_strength:
            j = position[h]
            teller[r] = listeners[h]
            out_company[r] = company[h]
            out_sign[r] = sign[h]
            out_strength[r] = weaker
            out_generation[r] = generation[j] + 1
            out_story[r] = story[j]
            r += 1
    return teller, out_company, out_sign, out_strength, out_generation, out_story


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
