"""The stories the page starts from (the shipped scenarios) and the lever that matters in each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxsim import scenario
from cxsim.params import ModelParams

#: Name of the story made of the engine's default parameters.
DEFAULTS = "defaults"


@dataclass(frozen=True)
class Tip:
    """What to try in a story: move one lever of one company and watch one thing.

    Attributes:
        company: position of the company whose lever to move.
        lever: the lever's key (see :data:`cxsim.dashboard.controls.COMPANY_LEVERS`).
        text: what to do and what to watch, for students.

    """

    company: int
    lever: str
    text: str


#: Seed story -> what to try (the stories of docs/ODD.md section 1.5).
TIPS: dict[str, Tip] = {
    "manage_vs_fix": Tip(
        0,
        "policy.preset",
        "Switch the managing company's policy to fix: it keeps more customers, its NPS climbs, "
        "and it hears more complaints per problem (complaints are gifts).",
    ),
    "dealership": Tip(
        1,
        "policy.callback_kept",
        "Raise the dealership's call-back promises kept from 0.05 to 0.95: the broken promises "
        "vanish and far fewer of its customers leave.",
    ),
    "quiet_by_wearing_out": Tip(
        1,
        "policy.crm_touches_per_month",
        "Cut heavy CRM's touches per month from 12 to 1: it hears more complaints, yet fewer "
        "customers leave. The quiet was fatigue, not satisfaction.",
    ),
    "goodwill_guarantee": Tip(
        0,
        "policy.goodwill_probability",
        "Set the guarantee store's goodwill to 0: its good word of mouth and NPS fall, while it "
        "saves the gestures' few hundred dollars each. Which matters more over three years?",
    ),
    "free_delivery_promotion": Tip(
        0,
        "promotion_excluded_share",
        "Set the over-promising store's promotion it cannot deliver to 0: the broken promises "
        "of the first 90 days, and the customers they cost, disappear.",
    ),
    "review_refund": Tip(
        0,
        "policy.review_response_probability",
        "Set the first pet store's 'listens to reviews' to 0: the bad reviews it used to turn "
        "around with a refund stay bad, and its NPS and good word of mouth fall.",
    ),
    "account_manager": Tip(
        1,
        "policy.proactive_follow_ups",
        "Tick 'proactive follow-ups' for the uninformed company: its account calls find the "
        "problems clients never reported and stop wearing them out. Ticking only 'sales knows "
        "about open complaints' changes nothing here: complaints are handled the day they "
        "arrive, so none is waiting.",
    ),
}


@dataclass(frozen=True)
class Story:
    """A story the page can start from.

    Attributes:
        name: short name (the scenario file's stem, or ``defaults``).
        title: one-line description (the scenario's first comment line).
        header: the scenario's comment header (what it shows and what to expect).
        params: the story's validated parameters (at the file's own size).
        base_dir: folder against which the story's relative paths resolve.
        tip: what to try, if the story is one of the seed stories.

    """

    name: str
    title: str
    header: tuple[str, ...]
    params: ModelParams
    base_dir: Path | None
    tip: Tip | None

    @property
    def label(self) -> str:
        """The story's name for people: ``manage_vs_fix`` -> ``manage vs fix``."""
        return self.name.replace("_", " ")


def default_story() -> Story:
    """The engine's default market: a managing and a fixing company."""
    return Story(
        DEFAULTS,
        "The engine's defaults: a managing and a fixing company in one market.",
        (),
        ModelParams(),
        None,
        None,
    )


def load_story(source: str | Path) -> Story:
    """Load a scenario file (or a shipped scenario's name) as a story.

    Raises:
        cxsim.scenario.ScenarioError: the file cannot be read or does not fit the schema.

    """
    loaded = scenario.load(source)
    return Story(
        loaded.name,
        loaded.description or loaded.name,
        tuple(loaded.header),
        loaded.params,
        loaded.base_dir,
        TIPS.get(loaded.name),
    )


def catalogue(extra: str | Path | None = None) -> dict[str, Story]:
    """The stories offered: the shipped scenarios, ``extra`` (a file given on the command line), defaults.

    A shipped scenario that does not load is left out rather than stopping the
    page; ``extra`` must load.
    """
    stories: dict[str, Story] = {}
    if extra is not None:
        story = load_story(extra)
        stories[story.name] = story
    for path in scenario.shipped_scenarios():
        if path.stem in stories:
            continue
        try:
            stories[path.stem] = load_story(path)
        except scenario.ScenarioError:
            continue
    stories[DEFAULTS] = default_story()
    return stories
