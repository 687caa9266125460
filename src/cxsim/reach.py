"""How far word of mouth carries: an observer of a run, and a function that runs one and measures.

:class:`WordOfMouthReach` watches the word-of-mouth stage and reports, per
company and per kind of story (negative, positive):

* **listeners per first-hand story**: the people told by the person who had
  the experience. This reads an input back (``negative_audience`` and
  ``positive_audience``, capped by the teller's contacts): a *verification*.
* **reach per first-hand story**: every hearing the story causes over all
  generations (its teller's listeners, their retellings' listeners, and so on).
* **people reached per first-hand story**: the same, counting a person once
  per story however often they hear it (on a clustered network a retold story
  often comes back to people who already heard it).
* **review readers per first-hand story**: people who read a public review,
  a separate channel, not part of the reach above.

The estimator is fixed here, before any result is looked at:

* A *first-hand story* is one telling by the person who had the experience:
  one per customer, company and day, whatever the experiences were (a problem,
  a fix, a promoter's good purchase). A story that is not told is not counted.
* Each hearing belongs to the first-hand story it descends from, and to the
  day that story was first told (its *origin day*); a retelling happens one
  day after the hearing it passes on, so generation g is heard on origin day + g.
* Only stories that have finished spreading count: origin days from the
  earliest one with a retelling still pending at the end of the run onwards
  are left out, so the end of the run does not cut reach short. Day 1 starts
  with nothing being retold, so nothing is cut at the start.
* Reach is a ratio over the whole window: hearings / first-hand stories.
  Uncertainty comes from replications (:func:`cxsim.stats.mean_ci`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cxsim.model import Market
    from cxsim.params import ModelParams, WordOfMouthParams
    from cxsim.stages.word_of_mouth import Tellings

#: Kinds of story, in the order of the tallies' sign axis (sign -1 -> 0, +1 -> 1).
SIGNS = ("negative", "positive")


class WordOfMouthReach:
    """Observer: listeners per first-hand teller and reach per first-hand story, all generations.

    Attach it to a run (``run_market(params, observers=[reach])`` or
    ``Market(..., observers=[reach])``), then read :meth:`frame` (per company
    and sign), :meth:`totals` (per sign, companies pooled) or
    :meth:`generations` (per generation and sign).
    """

    def attach(self, market: Market) -> None:
        """Allocate the tallies: per origin day (or generation), sign and company."""
        self._market = market
        slots = (market.params.market.days + 2, len(SIGNS), len(market.companies))
        self.stories = np.zeros(slots, dtype=np.int64)
        self.listeners = np.zeros(slots, dtype=np.int64)
        self.hearings = np.zeros(slots, dtype=np.int64)
        self.people = np.zeros(slots, dtype=np.int64)
        self.review_readers = np.zeros(slots, dtype=np.int64)
        self.tellings_by_generation = np.zeros(slots, dtype=np.int64)
        self.hearings_by_generation = np.zeros(slots, dtype=np.int64)
        # (story, person) keys already heard, for stories still being retold.
        self._heard = np.empty(0, dtype=np.int64)

    def on_day(self, market: Market) -> None:
        """Add today's tellings and hearings to the tallies of their origin days."""
        record = market.today.word_of_mouth
        if record is None:
            return
        day, n = market.day, market.customers.n
        told = record.tellings
        sign = (told.sign > 0).astype(np.intp)
        company = told.company.astype(np.intp)
        generation = told.generation.astype(np.intp)
        origin = day - generation
        per_telling = np.bincount(record.telling, minlength=len(told))
        first_hand = generation == 0
        np.add.at(self.stories, (day, sign[first_hand], company[first_hand]), 1)
        np.add.at(
            self.listeners, (day, sign[first_hand], company[first_hand]), per_telling[first_hand]
        )
        np.add.at(self.hearings, (origin, sign, company), per_telling)
        np.add.at(self.tellings_by_generation, (generation, sign, company), 1)
        np.add.at(self.hearings_by_generation, (generation, sign, company), per_telling)
        self._count_people(record.telling, record.listener, told, origin, sign, company, n)
        np.add.at(
            self.review_readers,
            (day, (record.review_sign > 0).astype(np.intp), record.review_company.astype(np.intp)),
            record.review_readers,
        )

    def _count_people(
        self,
        telling: np.ndarray,
        listener: np.ndarray,
        told: Tellings,
        origin: np.ndarray,
        sign: np.ndarray,
        company: np.ndarray,
        n: int,
    ) -> None:
        """Count each person once per story: keys (story, person) not heard before."""
        keys, first = np.unique(told.story[telling] * np.int64(n) + listener, return_index=True)
        new = ~np.isin(keys, self._heard, assume_unique=True)
        at = telling[first[new]]
        np.add.at(self.people, (origin[at], sign[at], company[at]), 1)
        # A story no longer being retold is never heard again: forget its listeners.
        pending = np.unique(self._market.backlog.retellings.story)
        heard = np.union1d(self._heard, keys)
        self._heard = heard[np.isin(heard // n, pending)]

    def _window(self) -> slice:
        """Origin days whose stories have finished spreading (see the module's estimator)."""
        market = self._market
        pending = market.backlog.retellings
        last = market.day
        if len(pending):
            last = int((market.day + 1 - pending.generation.astype(np.int64)).min()) - 1
        return slice(1, last + 1)

    def frame(self) -> pd.DataFrame:
        """Per company and sign: first-hand stories and what they reached, per story."""
        window = self._window()
        names = [c.name for c in self._market.companies]
        rows = []
        for s, sign in enumerate(SIGNS):
            for k, name in enumerate(names):
                rows.append(
                    self._row(
                        {"company": name, "sign": sign},
                        *(t[window, s, k].sum() for t in self._window_tallies()),
                        self.review_readers[:, s, k].sum(),
                        self.stories[:, s, k].sum(),
                    )
                )
        return pd.DataFrame(rows)

    def totals(self) -> pd.DataFrame:
        """Per sign, all companies pooled, with the negative : positive ratio of each figure."""
        window = self._window()
        rows = [
            self._row(
                {"sign": sign},
                *(t[window, s].sum() for t in self._window_tallies()),
                self.review_readers[:, s].sum(),
                self.stories[:, s].sum(),
            )
            for s, sign in enumerate(SIGNS)
        ]
        frame = pd.DataFrame(rows).set_index("sign").astype(float)
        ratio = frame.loc["negative"] / frame.loc["positive"]
        frame.loc["negative : positive"] = ratio
        return frame

    def generations(self) -> pd.DataFrame:
        """Per generation (0 = first-hand) and sign: tellings, hearings, hearings per telling."""
        told = self.tellings_by_generation.sum(axis=2)
        heard = self.hearings_by_generation.sum(axis=2)
        last = int(np.flatnonzero(told.sum(axis=1)).max(initial=0))
        rows = [
            {
                "generation": g,
                "sign": sign,
                "tellings": int(told[g, s]),
                "hearings": int(heard[g, s]),
                "hearings_per_telling": heard[g, s] / told[g, s] if told[g, s] else np.nan,
            }
            for g in range(last + 1)
            for s, sign in enumerate(SIGNS)
        ]
        return pd.DataFrame(rows)

    def _window_tallies(self) -> tuple[np.ndarray, ...]:
        return self.stories, self.listeners, self.hearings, self.people

    @staticmethod
    def _row(
        labels: dict[str, str],
        stories: float,
        listeners: float,
        hearings: float,
        people: float,
        readers: float,
        all_stories: float,
    ) -> dict[str, float | str]:
        per = (lambda x: x / stories) if stories else (lambda x: np.nan)
        return {
            **labels,
            "first_hand_stories": int(stories),
            "listeners_per_first_hand_story": per(listeners),
            "reach_per_first_hand_story": per(hearings),
            "people_reached_per_first_hand_story": per(people),
            "review_readers_per_first_hand_story": (
                readers / all_stories if all_stories else np.nan
            ),
        }


def measure_reach(params: ModelParams, replication: int = 0) -> pd.DataFrame:
    """Run replication ``replication`` of ``params`` and return its reach per sign (:meth:`WordOfMouthReach.totals`)."""
    from cxsim.run import run_market

    reach = WordOfMouthReach()
    run_market(params, replication, observers=[reach])
    return reach.totals()


def retelling_generations(wom: WordOfMouthParams) -> int:
    """How many times a story can be retold before it is too weak (strengths as the engine keeps them)."""
    strength, generations = np.float32(1.0), 0
    attenuation, weakest = np.float32(wom.hearsay_attenuation), np.float32(wom.min_strength)
    # A story at full strength retold forever (attenuation 1) is cut at a year of retellings.
    while generations < 365:
        strength = np.float32(strength * attenuation)
        if strength < weakest:
            break
        generations += 1
    return generations


def expected_reach_fully_mixed(wom: WordOfMouthParams, sign: str) -> float:
    """Mean hearings one first-hand story causes on a large fully mixed market, from the rules alone.

    The first-hand teller tells Poisson(audience) people; each hearing is passed on with
    ``retell_probability`` to Poisson(``retell_audience``) people, for
    :func:`retelling_generations` generations: audience x (1 + m + ... + m^G), m =
    ``retell_probability x retell_audience``.
    """
    audience = wom.negative_audience if sign == "negative" else wom.positive_audience
    m = wom.retell_probability * wom.retell_audience
    return audience * sum(m**g for g in range(retelling_generations(wom) + 1))


def expected_listeners(audience: float, degrees: np.ndarray) -> float:
    """Mean listeners of a first-hand teller, E[min(Poisson(audience), degree)], over ``degrees``."""
    from scipy import stats

    values, counts = np.unique(np.asarray(degrees, dtype=np.int64), return_counts=True)
    # E[min(X, d)] = sum over j < d of P(X > j).
    survival = stats.poisson.sf(np.arange(int(values.max(initial=0))), audience)
    below = np.concatenate([[0.0], np.cumsum(survival)])
    return float(np.average(below[values], weights=counts))
