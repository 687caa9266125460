"""The stories the page starts from (the shipped scenarios), and what each shows and teaches.

Each seed story's :class:`Claim` is the one place that says what the page shows
when the story opens: at which size and horizon it opens, and which company is
ahead of which on which key figure there. The page opens the story at that size
and says the claim in words; a browser test opens every story and checks that
the key figures on the page show it (tests/test_dashboard_browser.py). When the
model's defaults change and a story's direction with them, the claim is changed
here, and only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxsim import scenario
from cxsim.dashboard.controls import DEFAULT_CUSTOMERS, DEFAULT_DAYS
from cxsim.params import ModelParams, resolve

#: Name of the story made of the engine's default parameters.
DEFAULTS = "defaults"

#: Key figures a claim may name (summary columns the page's key-figure cards show), and how
#: the page says "is ahead on it".
CLAIM_WORDS: dict[str, str] = {
    "retention": "keeps more of its day-0 customers",
    "market_share": "ends with the larger market share",
    "nps": "ends with the higher NPS",
}


@dataclass(frozen=True)
class Claim:
    """What a story shows when it opens: one company ahead of another on one key figure.

    Attributes:
        figure: the key figure (a key of :data:`CLAIM_WORDS`): higher is ahead.
        ahead: position of the company with the higher value.
        behind: position of the company with the lower value.
        customers: people in the market the story opens with.
        days: days the story opens with (its horizon).
        caveat: what else the student should know to read it (a small effect, say), if any.

    """

    figure: str
    ahead: int
    behind: int
    customers: int = DEFAULT_CUSTOMERS
    days: int = DEFAULT_DAYS
    caveat: str = ""

    def words(self, names: list[str]) -> str:
        """The claim in words, with the companies' names (without its caveat)."""
        return (
            f"With {self.customers:,} people, by day {self.days:,} {names[self.ahead]} "
            f"{CLAIM_WORDS[self.figure]} than {names[self.behind]}"
        )


@dataclass(frozen=True)
class Tip:
    """What to try in a story: move one lever of one company and watch one thing.

    Attributes:
        company: position of the company whose lever to move.
        lever: the lever's key (see :data:`cxsim.dashboard.controls.COMPANY_LEVERS`).
        text: what to do and what to watch, for students.
        claim: what the page shows when the story opens, before any lever moves.

    """

    company: int
    lever: str
    text: str
    claim: Claim | None = None


#: Seed story -> what to try (the stories of docs/ODD.md section 1.5).
TIPS: dict[str, Tip] = {
    "manage_vs_fix": Tip(
        0,
        "policy.preset",
        "Switch the managing company's policy to fix: it keeps more of its customers and hears "
        "more complaints per problem (complaints are gifts), yet its NPS falls by about 13 "
        "points: the fix preset makes no CRM touches, and the touches had lifted its quiet, "
        "problem-free customers over the promoter line. Which figure would its board watch?",
        Claim("market_share", ahead=1, behind=0, days=1_095),
    ),
    "dealership": Tip(
        1,
        "price_over_quote",
        "Set the dealership's bill above the quote from 15% to 0: about half of its day-0 "
        "customers stay who left before. Keeping its call-back promises (0.05 to 0.95) does "
        "far less here: few customers complain, so few ever meet a broken promise.",
        Claim("retention", ahead=0, behind=1),
    ),
    "quiet_by_wearing_out": Tip(
        1,
        "policy.crm_touches_per_month",
        "Cut heavy CRM's touches per month from 12 to 1: it hears more complaints, keeps more "
        "of its day-0 customers, and its NPS falls by about 30 points. The quiet was fatigue, "
        "and the high NPS was the touches, not satisfaction.",
        Claim(
            "retention",
            ahead=0,
            behind=1,
            customers=5_000,
            days=1_095,
            caveat="Meanwhile heavy CRM has the far higher NPS: its touches lift everyone "
            "with nothing wrong.",
        ),
    ),
    "goodwill_guarantee": Tip(
        0,
        "policy.goodwill_probability",
        "Set the guarantee store's goodwill to 0 and compare with baseline A: nothing changes "
        "beyond the luck of the draw (try a few seeds). Goodwill reaches only the few who "
        "complain about a problem that was not the store's fault; at the story's own 20,000 "
        "people over three years the two stores differ measurably in nothing either.",
    ),
    "free_delivery_promotion": Tip(
        0,
        "promotion_excluded_share",
        "Set the over-promising store's promotion it cannot deliver to 0: the broken promises "
        "of the first 90 days, and the customers they cost, disappear.",
        Claim("retention", ahead=1, behind=0),
    ),
    "review_refund": Tip(
        0,
        "policy.review_response_probability",
        "Set the first pet store's 'listens to reviews' to 0: the bad reviews it used to turn "
        "around with a refund stay bad, more of its customers leave and fewer people hear good "
        "things about it; its NPS hardly moves.",
        Claim("retention", ahead=0, behind=1, customers=5_000, days=1_095),
    ),
    "account_manager": Tip(
        1,
        "policy.proactive_follow_ups",
        "Tick 'proactive follow-ups' for the uninformed company: its account calls find the "
        "problems clients never reported and stop wearing them out. Ticking only 'sales knows "
        "about open complaints' changes nothing here: complaints are handled the day they "
        "arrive, so none is waiting.",
        Claim("retention", ahead=0, behind=1),
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

    @property
    def claim(self) -> Claim | None:
        """What the page shows when the story opens, if the story says."""
        return self.tip.claim if self.tip is not None else None

    @property
    def opening(self) -> dict[str, int]:
        """The size the page opens the story at: its claim's, else the page's default.

        A story whose contacts come from a network file opens at the file's size.
        """
        claim = self.claim
        customers = claim.customers if claim is not None else DEFAULT_CUSTOMERS
        days = claim.days if claim is not None else DEFAULT_DAYS
        if self.params.network.kind == "file":
            customers = self.params.market.customers
        return {"market.customers": customers, "market.days": days}


def default_story() -> Story:
    """The engine's default market: a managing and a fixing company."""
    return Story(
        DEFAULTS,
        "The engine's defaults: a managing and a fixing company in one market.",
        (),
        resolve(None),  # the defaults with the seed every story starts from (1)
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
