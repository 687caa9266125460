"""Stage 5, attitude: experiences move attitudes; attitudes and fatigue fade (mechanism 5 of docs/ODD.md).

Each experience adds its effect (``behaviour.attitude``; hearsay effects from
``behaviour.word_of_mouth``) times its strength to the customer's attitude
toward that company, clipped to [-1, 1]. Then every attitude relaxes toward
neutral with mean memory ``attitude.memory_days``, and CRM fatigue fades with
mean memory ``voice.fatigue_memory_days``. Loyalty from tenure is not stored
here: the retention stage adds it to the attitude when it weighs leaving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cxsim.events import ATTITUDE_EFFECT, Event

if TYPE_CHECKING:
    from cxsim.model import Market
    from cxsim.params import BehaviourParams


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
    return table


def init(model: Market) -> None:
    """The attitude change of each kind of event, from the behavioural parameters."""
    model.effects = effect_table(model.params.behaviour)


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
    att = model.customers.attitude
    n = att.shape[1]
    flat = att.reshape(-1)
    keys = companies.astype(np.int64) * n + customers
    delta = model.effects[events.astype(np.intp)] * strengths
    np.add.at(flat, keys, delta)
    flat[keys] = np.clip(flat[keys], -1.0, 1.0)


def step(model: Market) -> None:
    """Apply today's experiences, then let attitudes and fatigue fade."""
    events, customers, companies, strengths = model.today.first_hand()
    apply(model, events, customers, companies, strengths)
    pars = model.params.behaviour
    c = model.customers
    c.attitude *= np.float32(np.exp(-1.0 / pars.attitude.memory_days))
    c.fatigue *= np.float32(np.exp(-1.0 / pars.voice.fatigue_memory_days))
