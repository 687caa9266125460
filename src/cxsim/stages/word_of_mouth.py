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

import numpy as np

from cxsim.customers import PROSPECT
from cxsim.events import TELLABLE, Event
from cxsim.stages import attitude

if TYPE_CHECKING:
    from cxsim.model import Market

_TELL_SIGN = np.zeros(len(Event), dtype=np.int8)
for _event, _sign in TELLABLE.items():
    _TELL_SIGN[_event] = _sign
_HEARD_NEGATIVE, _HEARD_POSITIVE = np.int8(Event.heard_negative), np.int8(Event.heard_positive)
_SATISFIED = np.int8(Event.satisfied)


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
        """These tellings followed by ``later``'s."""
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
    k = len(model.companies)

    sign = _TELL_SIGN[events.astype(np.intp)]
    tellable = sign != 0
    # A day with several experiences makes one story, whose sign is that of their net effect.
    keys = customers[tellable] * k + companies[tellable].astype(np.int64)
    net_effect = model.effects[events[tellable].astype(np.intp)] * strengths[tellable]
    uniq, inverse = np.unique(keys, return_inverse=True)
    net = np.bincount(inverse, weights=net_effect, minlength=uniq.size)
    story = np.sign(net).astype(np.int8)

    # Promoters tell about an ordinary good purchase.
    satisfied = events == _SATISFIED
    happy = customers[satisfied]
    happy_company = companies[satisfied]
    promoter = attitude.felt(model, happy_company.astype(np.intp), happy) >= (
        model.params.behaviour.attitude.promoter_threshold
    )
    promoter_keys = happy[promoter] * k + happy_company[promoter].astype(np.int64)
    if uniq.size:  # those who have a story of their own today tell that instead
        at = np.minimum(np.searchsorted(uniq, promoter_keys), uniq.size - 1)
        promoter_keys = promoter_keys[uniq[at] != promoter_keys]
    promoter_tells = rng.random(promoter_keys.size) < pars.promoter_tell_probability

    keys = np.concatenate([uniq, promoter_keys[promoter_tells]])
    story = np.concatenate([story, np.ones(int(promoter_tells.sum()), dtype=np.int8)])
    u = rng.random(keys.size)
    tells = ((story < 0) & (u < pars.negative_tell_probability)) | (
        (story > 0) & (u < pars.positive_tell_probability)
    )
    # Promoter stories were already drawn once with their own probability.
    tells[uniq.size :] = True
    keys, story = keys[tells], story[tells]
    return keys // k, (keys % k).astype(np.int8), story


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
    audience = rng.poisson(mean_audience)
    position, listeners = model.network.sample_listeners(tellings.teller, audience, rng)
    listener_company = company[position]
    listener_sign = sign[position]
    listener_strength = tellings.strength[position]
    heard_negative = listener_sign < 0

    event = np.where(heard_negative, _HEARD_NEGATIVE, _HEARD_POSITIVE)
    attitude.apply(model, event, listeners, listener_company, listener_strength)

    if model.params.market.referral_probability > 0:
        praised = ~heard_negative
        praised[praised] = model.customers.provider[listeners[praised]] == PROSPECT
        today = model.today
        today.praised_prospects = listeners[praised]
        today.praised_company = listener_company[praised]
        today.praise_strength = listener_strength[praised]

    res.count_split("negative_tellers", "positive_tellers", company, negative)
    res.count_split("wom_negative", "wom_positive", listener_company, heard_negative)
    if model.listens(Event.told_negative):
        model.log(Event.told_negative, tellings.teller, company, where=negative)
        model.log(Event.told_positive, tellings.teller, company, where=~negative)
        model.log(Event.heard_negative, listeners, listener_company, where=heard_negative)
        model.log(Event.heard_positive, listeners, listener_company, where=~heard_negative)

    next_strength = (listener_strength * pars.hearsay_attenuation).astype(np.float32)
    again = (rng.random(listeners.size) < pars.retell_probability) & (
        next_strength >= pars.min_strength
    )
    heard = position[again]
    retellings = Tellings(
        teller=listeners[again],
        company=listener_company[again],
        sign=listener_sign[again],
        strength=next_strength[again],
        generation=tellings.generation[heard] + np.int32(1),
        story=tellings.story[heard],
    )
    return retellings, position, listeners


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
