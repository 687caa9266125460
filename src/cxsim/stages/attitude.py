"""Stage 5, attitude: experiences move attitudes; episodes and attitudes fade (mechanism 5 of docs/ODD.md).

A customer's attitude toward a company has two parts (Bolton 1998):

* the **episode** ``E``, the feeling of recent experiences, and
* the **lasting attitude** ``L``, the customer's settled view.

A first-hand experience with effect ``delta`` (``behaviour.attitude``, times
the experience's strength) adds ``delta`` to ``E`` and ``share x delta`` to
``L``, where ``share = lasting_share`` for a bad experience (``delta < 0``)
and ``lasting_share / loss_aversion`` for a good one: bad experiences leave a
deeper lasting mark (Bolton 1998; loss aversion, Tversky & Kahneman 1992).
What one hears (a story, a review; effects from ``behaviour.word_of_mouth``)
moves ``L`` only. Every experience of a serious problem (the problem, the
complaint, the fix or its absence, a refund, a broken promise) has strength
``serious_loss_scale``: a larger loss moves customers more in failure and in
recovery (Smith, Bolton & Wagner 1999). Nothing is clipped: different outcomes
never land on a common floor.

Then ``E`` fades with mean memory ``episode_memory_days`` (about one purchase
interval), ``L`` relaxes toward neutral with mean memory ``memory_days``, and
CRM fatigue fades with ``voice.fatigue_memory_days``. What a customer feels and
acts on (:func:`felt`) is ``L + E``; loyalty from tenure and the pull of
competitors are added by the retention stage when it weighs leaving.

Experiences are added to attitudes one at a time, in the order they happened
(a compiled kernel, :func:`add_experiences`); the stage's whole day is one kernel call
(:func:`live_the_day`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from cxsim.events import ATTITUDE_EFFECT, HEARSAY, LOSS_SCALED, Event

if TYPE_CHECKING:
    from cxsim.model import Market
    from cxsim.params import BehaviourParams

_IS_HEARSAY = np.zeros(len(Event), dtype=bool)
_IS_HEARSAY[[int(e) for e in HEARSAY]] = True
_IS_LOSS_SCALED = np.zeros(len(Event), dtype=bool)
_IS_LOSS_SCALED[[int(e) for e in LOSS_SCALED]] = True


def effect_table(behaviour: BehaviourParams) -> np.ndarray:
    """Attitude change per event kind (zero for events that do not move attitude)."""
    table = np.zeros(len(Event), dtype=np.float32)
    for event, name in ATTITUDE_EFFECT.items():
        source = (
            behaviour.attitude
            if name in type(behaviour.attitude).model_fields
            else behaviour.word_of_mouth
        )
        table[event] = getattr(source, name)
    table[Event.problem_serious] *= behaviour.attitude.serious_loss_scale
    return table


def init(model: Market) -> None:
    """The attitude change of each kind of event, and the lasting shares, from the parameters."""
    model.effects = effect_table(model.params.behaviour)
    att = model.params.behaviour.attitude
    model.lasting_shares = (
        np.float32(att.lasting_share),
        np.float32(att.lasting_share / att.loss_aversion),
    )
    voice = model.params.behaviour.voice
    model.fading = tuple(
        np.float32(np.exp(-1.0 / days))
        for days in (att.memory_days, att.episode_memory_days, voice.fatigue_memory_days)
    )


def scale_by_loss(
    model: Market, events: np.ndarray, customers: np.ndarray, strengths: np.ndarray
) -> None:
    """Multiply, in place, the strength of experiences about a serious problem by the loss scale.

    The problem an experience is about is the customer's latest (a new problem
    replaces the open issue, and stale tickets are dropped before they are handled).
    """
    scale_serious(
        events,
        customers,
        strengths,
        _IS_LOSS_SCALED,
        model.customers.issue_serious,
        np.float32(model.params.behaviour.attitude.serious_loss_scale),
    )


@numba.njit(cache=True, nogil=True)
def scale_serious(
    events: np.ndarray,
    customers: np.ndarray,
    strengths: np.ndarray,
    is_loss_scaled: np.ndarray,
    issue_serious: np.ndarray,
    loss_scale: np.float32,
) -> None:
    """The rule of :func:`scale_by_loss`, in place: ``strengths[i] *= loss_scale`` (float32).

    For each experience ``i`` about a problem (``is_loss_scaled`` of its event) whose
    customer's open issue is serious.
    """
    for i in range(events.size):
        if is_loss_scaled[events[i]] and issue_serious[customers[i]]:
            strengths[i] *= loss_scale


def felt(model: Market, companies: np.ndarray | int, customers: np.ndarray) -> np.ndarray:
    """How ``customers`` feel about ``companies`` now: lasting attitude plus episode."""
    c = model.customers
    return c.attitude[companies, customers] + c.episode[companies, customers]


def apply(
    model: Market,
    events: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    strengths: np.ndarray,
) -> None:
    """Add the effects of experiences to attitudes (the one place attitudes change by events)."""
    if customers.size == 0:
        return
    c = model.customers
    bad_share, good_share = model.lasting_shares
    add_experiences(
        c.attitude,
        c.episode,
        events,
        customers,
        companies,
        strengths,
        model.effects,
        _IS_HEARSAY,
        bad_share,
        good_share,
    )


@numba.njit(cache=True, nogil=True)
def add_experiences(
    attitude: np.ndarray,
    episode: np.ndarray,
    events: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    strengths: np.ndarray,
    effects: np.ndarray,
    is_hearsay: np.ndarray,
    bad_share: np.float32,
    good_share: np.float32,
) -> None:
    """Add experiences to attitudes, one after another in the order given (the rule of the stage).

    Experience ``i`` of customer ``j = customers[i]`` with company ``k = companies[i]`` has
    effect ``delta = effects[events[i]] x strengths[i]``. Hearsay adds ``delta`` to the lasting
    attitude ``attitude[k, j]``; a first-hand experience adds ``delta x bad_share`` (if
    ``delta < 0``) or ``delta x good_share`` to it, and ``delta`` to the episode
    ``episode[k, j]``. Each addition is rounded to float32, as the columns are.
    """
    for i in range(customers.size):
        k = companies[i]
        j = customers[i]
        kind = events[i]
        delta = effects[kind] * strengths[i]
        if is_hearsay[kind]:
            attitude[k, j] += np.float32(delta)
        else:
            share = bad_share if delta < 0 else good_share
            attitude[k, j] += np.float32(delta * share)
            episode[k, j] += np.float32(delta)


def step(model: Market) -> None:
    """Apply today's experiences, then let episodes, attitudes and fatigue fade."""
    events, customers, companies, strengths = model.today.first_hand()
    c = model.customers
    bad_share, good_share = model.lasting_shares
    lasting, episode, fatigue = model.fading
    live_the_day(
        events,
        customers,
        companies,
        strengths,  # scaled in place: the word-of-mouth stage reads them too
        model.effects,
        _IS_HEARSAY,
        _IS_LOSS_SCALED,
        c.issue_serious,
        np.float32(model.params.behaviour.attitude.serious_loss_scale),
        bad_share,
        good_share,
        c.attitude,
        c.episode,
        c.fatigue,
        lasting,
        episode,
        fatigue,
    )


@numba.njit(cache=True, nogil=True)
def live_the_day(
    events: np.ndarray,
    customers: np.ndarray,
    companies: np.ndarray,
    strengths: np.ndarray,
    effects: np.ndarray,
    is_hearsay: np.ndarray,
    is_loss_scaled: np.ndarray,
    issue_serious: np.ndarray,
    loss_scale: np.float32,
    bad_share: np.float32,
    good_share: np.float32,
    attitude: np.ndarray,
    episode: np.ndarray,
    fatigue: np.ndarray,
    lasting_fading: np.float32,
    episode_fading: np.float32,
    fatigue_fading: np.float32,
) -> None:
    """The stage's day, in place: scale, add, fade (the rule of the module's docstring).

    First the strength of each experience about a serious problem (``is_loss_scaled`` of its
    event, the customer's open issue serious) is multiplied by ``loss_scale`` (float32, as
    :func:`scale_by_loss`); then the experiences are added in order (:func:`add_experiences`);
    then every lasting attitude, episode and fatigue is multiplied by its fading factor
    (float32, as NumPy multiplies a float32 array by a float32 number).
    """
    scale_serious(events, customers, strengths, is_loss_scaled, issue_serious, loss_scale)
    add_experiences(
        attitude,
        episode,
        events,
        customers,
        companies,
        strengths,
        effects,
        is_hearsay,
        bad_share,
        good_share,
    )
    for k in range(attitude.shape[0]):
        for i in range(attitude.shape[1]):
            attitude[k, i] *= lasting_fading
    for k in range(episode.shape[0]):
        for i in range(episode.shape[1]):
            episode[k, i] *= episode_fading
    for i in range(fatigue.size):
        fatigue[i] *= fatigue_fading
