"""The one parameter schema of cxsim.

Every parameter of the model lives here, typed, bounded and documented, with
the place its default comes from (a seed figure, a paper, or "assumption").
The same schema feeds the Python API, scenario files, the dashboard, sweeps and
calibration, always through :func:`cxsim.params.resolve`; nested fields are
addressable by dotted keys such as ``companies.0.policy.refund_rule``.

Rates are given in the units people quote them in (per year for Bass's p and
q, per month for CRM touches, days for intervals) and converted to per-day
rates by the engine.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ASSUMPTION = "assumption"


def param(default: Any, description: str, source: str = ASSUMPTION, **constraints: Any) -> Any:
    """Declare a documented parameter: default, meaning, where the default comes from.

    A number is validated strictly: ``true`` and ``false`` are not numbers (pydantic
    would read them as 1 and 0, so ``days = true`` would run one day), nor are
    strings of digits, nor is 2.0 a whole number.
    """
    if isinstance(default, int | float) and not isinstance(default, bool):
        constraints.setdefault("strict", True)
    return Field(
        default, description=description, json_schema_extra={"source": source}, **constraints
    )


class Strict(BaseModel):
    """Base for all parameter groups: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# --------------------------------------------------------------------------- market


class MarketParams(Strict):
    """The population of customers and how prospects adopt (Bass, 1969)."""

    customers: int = param(
        10_000, "Number of people in the market (customers and prospects).", ge=2, le=50_000_000
    )
    days: int = param(3 * 365, "Days to simulate.", ge=1, le=36_500)
    seed: int | None = param(
        None,
        "Root seed; a seed gives identical results. Not given: scenario files, the command "
        "line, sweeps and cxsim.params.resolve use 1; a Market built in Python without a seed "
        "draws a fresh one and records it here, as Mesa models do.",
        ge=0,
        strict=True,
    )
    initial_adoption: float = param(
        0.6,
        "Share of people who are customers of some company on day 0; the rest are prospects.",
        ge=0.0,
        le=1.0,
    )
    advertising_rate: float = param(
        0.03,
        "Bass innovation coefficient p per year: adoption through advertising.",
        "Sultan, Farley & Lehmann (1990) meta-analysis mean p = 0.03",
        ge=0.0,
        le=50.0,
    )
    imitation_rate: float = param(
        0.32,
        "Bass imitation coefficient q per year: adoption through customers one knows. With "
        "referral (referral_probability) it makes up word-of-mouth adoption.",
        "Sultan, Farley & Lehmann (1990) meta-analysis mean q = 0.38 for all word-of-mouth "
        "adoption; re-balanced to 0.32 so that imitation and referral together adopt as many "
        "prospects in the default world as q = 0.38 did alone (measured: 2,304 vs 2,291 "
        "word-of-mouth adoptions in three years, 10,000 people, 8 replications)",
        ge=0.0,
        le=50.0,
    )
    referral_probability: float = param(
        0.05,
        "Chance a prospect who hears a contact praise a company (a happy story told first-hand) "
        "adopts it that day; a retold story converts in proportion to its strength (half at the "
        "first retelling), and reviews do not refer. Customer referral, its own channel beside "
        "Bass's p and q: 50 acquisitions per 1,000 first-hand positive hearings by prospects.",
        "assumption, below the 12-14% of customers' referrals that became customers in Kumar, "
        "Petersen & Leone's (2007) field studies, because a story heard in passing is weaker "
        "than a referral; Kumar et al. (2007) and Villanueva, Yoo & Hanssens (2008) report "
        "referral value and acquisition elasticities, not a per-hearing probability",
        ge=0.0,
        le=1.0,
    )
    choice_sensitivity: float = param(
        2.0,
        "How strongly a prospect's attitude toward a company (from what it heard) scales its "
        "adoption hazard for that company: hazard x exp(sensitivity x attitude). 0 = attitudes ignored.",
        ge=0.0,
        le=20.0,
    )
    purchase_interval_days: float = param(
        30.0,
        "Mean days between a customer's purchases (purchases are a Poisson process).",
        ge=1.0,
        le=3650.0,
    )
    discount_rate: float = param(
        0.12,
        "Annual discount rate (cost of capital) d for the run's net present value and the customer "
        "lifetime value: money on day t is worth (1 + d)^(-t / 365) on day 0.",
        "assumption: a 12% cost of capital, as used to value customers by Gupta, Lehmann & Stuart "
        "(2004), who find customer value about five times less sensitive to it than to retention",
        ge=0.0,
        le=1.0,
    )


# --------------------------------------------------------------------------- network


class NetworkKind(StrEnum):
    """Shapes of the customers' social network: the one list of them (see :data:`NETWORK_KIND_WORDS`)."""

    small_world = "small_world"
    scale_free = "scale_free"
    random = "random"
    fully_mixed = "fully_mixed"
    file = "file"


#: Each shape of network in words, for people (the dashboard's menu, the docs).
NETWORK_KIND_WORDS: dict[NetworkKind, str] = {
    NetworkKind.small_world: "small world (friends of friends, a few long links)",
    NetworkKind.scale_free: "scale free (a few people know very many)",
    NetworkKind.random: "random (anyone may know anyone)",
    NetworkKind.fully_mixed: "fully mixed (everyone can reach everyone)",
    NetworkKind.file: "from a file (an edge list of real contacts)",
}


class NetworkParams(Strict):
    """Who can tell whom."""

    kind: NetworkKind = param(
        NetworkKind.small_world,
        "small_world (Watts-Strogatz), scale_free (Barabasi-Albert), random (Erdos-Renyi), "
        "fully_mixed (everyone can reach everyone; no edge list), or file (an edge list).",
    )
    mean_degree: int = param(
        10,
        "Mean number of contacts per customer (even, for small_world and scale_free).",
        ge=2,
        le=1000,
    )
    rewiring: float = param(
        0.1, "Small-world rewiring probability.", "Watts & Strogatz (1998)", ge=0.0, le=1.0
    )
    path: str | None = param(
        None,
        "Network file for kind = file: an edge list of customer ids (.edgelist/.edges/.txt, "
        ".csv, .adjlist) or a file of named nodes (.graphml/.gml/.gexf/.net); relative paths "
        "are resolved against the scenario file.",
    )
    first_id: int = param(
        0,
        "The id of the first customer in an edge-list file (0 or 1): its ids are whole numbers "
        "from first_id to first_id + market.customers - 1; ids that appear in no line are "
        "customers without contacts. Files of named nodes map names to ids instead.",
        ge=0,
        le=1,
    )
    header: bool = param(
        False,
        "The edge-list file's first line (after comments) is a header, such as source,target, "
        "not a contact. An undeclared header is skipped only when no field of it is a number, "
        "and a warning says so.",
    )

    @model_validator(mode="after")
    def _check(self) -> NetworkParams:
        if self.kind == NetworkKind.file and not self.path:
            raise ValueError("network.path is required when network.kind = 'file'")
        if self.kind in (NetworkKind.small_world, NetworkKind.scale_free) and self.mean_degree % 2:
            raise ValueError(
                f"mean_degree must be even for {self.kind.value}, got {self.mean_degree}"
            )
        return self


# --------------------------------------------------------------------------- customers' behaviour


class ProblemParams(Strict):
    """How purchases go wrong (mechanisms 1-2 of docs/ODD.md)."""

    serious_share: float = param(
        6 / 26,
        "Share of problems that are serious.",
        "TARP as quoted in the seeds: of 26 customers with problems, 6 serious",
        ge=0.0,
        le=1.0,
    )
    customer_fault_share: float = param(
        0.1,
        "Share of problems that are not the company's fault (the air conditioner dropped from a window).",
        ge=0.0,
        le=1.0,
    )
    disconfirmation_sensitivity: float = param(
        1.0,
        "Chance of a problem per unit of shortfall between promise and delivery, for a product "
        "that is fine (expectation disconfirmation): quality gap plus relative price overrun.",
        "Oliver (1980) expectation-disconfirmation; scale is an assumption",
        ge=0.0,
        le=10.0,
    )
    problem_memory_days: int = param(
        30,
        "Days an unvoiced or unresolved problem stays open in the customer's mind.",
        ge=1,
        le=3650,
    )


class VoiceParams(Strict):
    """Whether a customer with a problem complains (mechanism 3)."""

    minor: float = param(
        0.02,
        "Chance a customer complains about a minor problem to a fully reachable company.",
        "chosen with 'serious' so that about 1 in 26 problems is voiced (TARP)",
        ge=0.0,
        le=1.0,
    )
    serious: float = param(
        0.10,
        "Chance a customer complains about a serious problem to a fully reachable company.",
        "chosen with 'minor' so that about 1 in 26 problems is voiced (TARP)",
        ge=0.0,
        le=1.0,
    )
    learned_silence: float = param(
        0.5,
        "Factor applied to a customer's chance of complaining after each complaint that was ignored, "
        "declined or met with a broken promise ('ignored complaints teach silence').",
        ge=0.0,
        le=1.0,
    )
    crm_fatigue_damping: float = param(
        0.3,
        "Voice is multiplied by exp(-damping x CRM fatigue): surveys and notices absorb the complaint "
        "('CRM may keep your customers quiet ... by wearing them out').",
        ge=0.0,
        le=10.0,
    )
    fatigue_memory_days: float = param(
        30.0, "Mean days a CRM touch keeps counting toward a customer's fatigue.", ge=1.0, le=3650.0
    )
    patience_days: int = param(
        21,
        "Days a complainant waits in a queue before giving up (complaint ignored).",
        ge=1,
        le=3650,
    )


class AttitudeParams(Strict):
    """How each experience moves the customer's attitude toward that company (mechanism 5).

    A customer's attitude toward a company has two parts (Bolton 1998: customers
    weigh recent experience heavily, and their cumulative view slowly): a lasting
    attitude, which forgets over ``memory_days``, and an episode, the feeling of
    recent experiences, which fades over ``episode_memory_days`` (about one
    purchase interval). An experience adds its effect to the episode in full and
    a share of it to the lasting attitude (``lasting_share`` for a bad one, that
    divided by ``loss_aversion`` for a good one). What a customer feels, and acts
    on (leaving, choosing, telling, recommending), is the sum. 0 is neutral;
    attitudes are not bounded, so different outcomes never land on one floor.
    """

    initial_customer: float = param(
        0.1,
        "Lasting attitude of a day-0 customer toward its provider.",
        "assumption: about where a problem-free customer's lasting attitude settles "
        "(lasting_share / loss_aversion x satisfied_purchase x purchases a year = 0.11)",
        ge=-5.0,
        le=5.0,
    )
    problem_minor: float = param(
        -0.2891,
        "Change on a minor problem (the unit the other effects are stated against).",
        "TARP repurchase after an unvoiced small problem (37%); fitted jointly (experiments/world_fit.toml)",
        le=0.0,
        ge=-5.0,
    )
    serious_loss_scale: float = param(
        1.578,
        "Factor on every effect of a serious problem and of what happens to it (the complaint, "
        "the fix or its absence, a refund, a broken promise): a larger loss moves customers more, "
        "in failure and in recovery.",
        "Smith, Bolton & Wagner (1999): failure and recovery effects grow with the size of the "
        "loss; default the old ratio 0.35 / 0.15; fitted jointly (experiments/world_fit.toml)",
        ge=1.0,
        le=20.0,
    )
    complained: float = param(
        0.1167,
        "Change from voicing a complaint at all, whatever its outcome (being heard).",
        "TARP's repurchase table (46% after an unsatisfying complaint vs 37% after none) implies "
        "it is positive; fitted jointly (experiments/world_fit.toml)",
        ge=-5.0,
        le=5.0,
    )
    broken_promise: float = param(
        -0.1406,
        "Change when a promise is broken: a callback that never comes, a promotion not delivered.",
        "the seeds: worse than an ignored complaint (2.5 times, the old defaults' ratio); TARP's "
        "unsatisfied complainers (46% repurchase vs 37% silent) keep it small; tied in the world fit: 2.5 x complaint_ignored (experiments/world_fit.toml)",
        le=0.0,
        ge=-5.0,
    )
    complaint_ignored: float = param(
        -0.05626,
        "Change when a complaint is ignored, declined, or abandoned in the queue.",
        "TARP: complained and not satisfied, 46% repurchase; fitted jointly (experiments/world_fit.toml)",
        le=0.0,
        ge=-5.0,
    )
    queue_wait_per_day: float = param(
        -0.009637,
        "Change per day a complaint waits in a queue.",
        "assumption: a thirtieth of a minor problem a day (the old defaults' ratio); tied in the world fit: 1/30 x problem_minor (experiments/world_fit.toml)",
        le=0.0,
        ge=-1.0,
    )
    fixed: float = param(
        0.02457,
        "Change when the problem is fixed.",
        "TARP: complained and satisfied, 70% repurchase; fitted jointly (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    fixed_quickly_bonus: float = param(
        0.1256,
        "Extra change when fixed within quick_days.",
        "TARP: satisfied quickly, 95% repurchase; fitted jointly (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    quick_days: int = param(
        1, "A fix within this many days of the problem counts as quick.", ge=0, le=365
    )
    recovery_paradox: float = param(
        0.09636,
        "Extra lift for a quick and generous recovery (fixed quickly, with an apology).",
        "de Matos, Henrique & Rossi (2007): positive on satisfaction on average; "
        "Michel & Meuter (2008): rare and small; a third of a minor problem (the old defaults' "
        "ratio); tied in the world fit: -1/3 x problem_minor (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    refund: float = param(
        0.2891,
        "Change on a refund.",
        "assumption: as large as a minor problem (the old defaults' ratio); tied in the world fit: -1 x problem_minor (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    apology: float = param(
        0.09636,
        "Change on an apology.",
        "assumption: a third of a minor problem (the old defaults' ratio); tied in the world fit: -1/3 x problem_minor (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    goodwill: float = param(
        0.7709,
        "Change when the company redresses a problem that was not its fault.",
        "assumption: 2.7 minor problems (the old defaults' ratio): the seeds' air conditioner; tied in the world fit: -8/3 x problem_minor (experiments/world_fit.toml)",
        ge=0.0,
        le=5.0,
    )
    crm_touch: float = param(
        0.003855,
        "Change per CRM touch when nothing is wrong.",
        "assumption: a seventy-fifth of a minor problem (the old defaults' ratio); tied in the world fit: -1/75 x problem_minor (experiments/world_fit.toml)",
        ge=0.0,
        le=1.0,
    )
    crm_touch_open_problem: float = param(
        -0.05782,
        "Change per CRM touch while a problem is open ('wearing them out').",
        "assumption: a fifth of a minor problem (the old defaults' ratio); tied in the world fit: 1/5 x problem_minor (experiments/world_fit.toml)",
        le=0.0,
        ge=-1.0,
    )
    satisfied_purchase: float = param(
        0.04,
        "Change on a purchase without a problem.",
        "assumption: with 12 purchases a year and a one-year memory a problem-free customer's "
        "lasting attitude settles near lasting_share / loss_aversion x 0.04 x 12",
        ge=0.0,
        le=1.0,
    )
    lasting_share: float = param(
        0.5,
        "Share of a bad experience's effect that stays in the lasting attitude (the rest is felt "
        "in the episode only and fades with it).",
        "assumption: half; Bolton (1998): cumulative satisfaction is updated by each transaction's",
        ge=0.0,
        le=1.0,
    )
    loss_aversion: float = param(
        2.25,
        "A good experience's lasting share is lasting_share divided by this: bad experiences "
        "leave a deeper lasting mark than equally good ones.",
        "Tversky & Kahneman (1992) loss aversion 2.25; Bolton (1998): negative disconfirmation "
        "weighs more than positive in the duration of a relationship",
        ge=1.0,
        le=10.0,
    )
    episode_memory_days: float = param(
        30.0,
        "Mean days over which the episode (the feeling of recent experiences) fades.",
        "about one purchase interval (issue 13; Bolton 1998 on recency)",
        ge=1.0,
        le=3650.0,
    )
    memory_days: float = param(
        365.0,
        "Mean days over which the lasting attitude relaxes toward neutral (0), one's provider "
        "included; loyalty from tenure enters the leaving hazard instead.",
        ge=1.0,
        le=36_500.0,
    )
    join_increment: float = param(
        0.3,
        "Lasting attitude gained on choosing a company (joining or switching in), added to what "
        "the joiner already felt about it from what they heard.",
        "assumption: a new customer starts a little above where problem-free customers settle "
        "(it chose the company)",
        ge=0.0,
        le=5.0,
    )
    promoter_threshold: float = param(
        0.15,
        "Felt attitude at or above which a customer is a promoter (NPS 9-10).",
        "assumption: where a customer whose purchases all went well settles (lasting about 0.11 "
        "plus the episode of a good purchase, about 0.04)",
        ge=-5.0,
        le=5.0,
    )
    detractor_threshold: float = param(
        0.0,
        "Felt attitude at or below which a customer is a detractor (NPS 0-6).",
        "assumption: neutral or worse",
        ge=-5.0,
        le=5.0,
    )

    @model_validator(mode="after")
    def _check(self) -> AttitudeParams:
        if self.detractor_threshold >= self.promoter_threshold:
            raise ValueError("detractor_threshold must be below promoter_threshold")
        return self


class WordOfMouthParams(Strict):
    """What customers tell each other and the public (mechanism 6)."""

    negative_audience: float = param(
        9.5,
        "Mean number of people an unhappy customer tells about its own experience (Poisson, "
        "capped by its contacts).",
        "TARP as quoted in the seeds: 9-10",
        ge=0.0,
        le=1000.0,
    )
    positive_audience: float = param(
        4.5,
        "Mean number of people a happy customer tells about its own experience (Poisson, "
        "capped by its contacts).",
        "TARP as quoted in the seeds: 4-5; East, Hammond & Wright (2007) find positive WOM more "
        "frequent in most categories, so this is a parameter",
        ge=0.0,
        le=1000.0,
    )
    negative_tell_probability: float = param(
        1.0, "Chance an unhappy experience is told at all.", ge=0.0, le=1.0
    )
    positive_tell_probability: float = param(
        1.0, "Chance a happy experience (a fix, refund, goodwill) is told at all.", ge=0.0, le=1.0
    )
    promoter_tell_probability: float = param(
        0.05,
        "Chance a promoter tells about an ordinary purchase without a problem.",
        ge=0.0,
        le=1.0,
    )
    negative_effect: float = param(
        -0.05782,
        "Attitude change of a listener hearing a negative story from the teller (hearsay moves less "
        "than first-hand experience).",
        "BRIEF: hearsay moves less than first-hand experience; assumption: a fifth of a minor "
        "problem; tied in the world fit: 1/5 x problem_minor (experiments/world_fit.toml)",
        le=0.0,
        ge=-2.0,
    )
    positive_effect: float = param(
        0.05782,
        "Attitude change of a listener hearing a positive story from the teller.",
        "assumption: as large as a negative story's; tied in the world fit: -1/5 x problem_minor "
        "(experiments/world_fit.toml)",
        ge=0.0,
        le=2.0,
    )
    retell_probability: float = param(
        0.1, "Chance a listener passes the story on the next day.", ge=0.0, le=1.0
    )
    retell_audience: float = param(
        2.0,
        "Mean number of people a listener who passes a story on tells (Poisson, capped by its "
        "contacts), for unhappy and happy stories alike: hearsay is told to fewer people than "
        "one's own experience, so one story's reach over all retellings stays finite and near "
        "its first-hand audience (x 1.25 at retell_probability 0.1 on a fully mixed market), "
        "and the negative : positive ratio of reach is that of the first-hand audiences.",
        "assumption: no published per-retelling audience; set well below the first-hand "
        "audiences, which TARP reports only for people's own experiences",
        ge=0.0,
        le=1000.0,
    )
    hearsay_attenuation: float = param(
        0.5, "Strength factor per retelling (hearsay moves listeners less).", ge=0.0, le=1.0
    )
    min_strength: float = param(
        0.1, "Stories weaker than this are no longer retold.", ge=0.0, le=1.0
    )
    negative_review_probability: float = param(
        0.02, "Chance an unhappy teller also posts a public review.", ge=0.0, le=1.0
    )
    positive_review_probability: float = param(
        0.01, "Chance a happy teller also posts a public review.", ge=0.0, le=1.0
    )
    review_readers: float = param(
        100.0, "Mean number of people (anywhere in the market) who read a review.", ge=0.0, le=1e6
    )
    review_effect: float = param(
        0.3,
        "A review moves a reader by this fraction of the first-hand story effect.",
        ge=0.0,
        le=1.0,
    )
    chime_in_probability: float = param(
        0.002,
        "Chance a reader who already feels the same way about the company posts a review of its own.",
        ge=0.0,
        le=1.0,
    )


class RetentionParams(Strict):
    """Who stays and who leaves (mechanism 7)."""

    base_churn_per_year: float = param(
        0.03,
        "Leaving hazard per year for reasons unrelated to service (moving, changed needs).",
        ge=0.0,
        le=365.0,
    )
    max_churn_per_year: float = param(
        365.0,
        "Extra leaving hazard per year at the worst attitude (the attitude part's ceiling): at "
        "worst a customer leaves within about a day.",
        ge=0.0,
        le=3650.0,
    )
    churn_midpoint: float = param(
        -0.1605,
        "Felt attitude (with loyalty and the pull of alternatives) at which the leaving hazard "
        "is half its ceiling.",
        "fitted jointly (experiments/world_fit.toml)",
        ge=-10.0,
        le=10.0,
    )
    churn_width: float = param(
        0.05662,
        "Width of the logistic leaving hazard (small = cliff, large = flat): below the midpoint "
        "the hazard falls by a factor e per width of attitude.",
        "fitted jointly (experiments/world_fit.toml)",
        gt=0.0,
        le=10.0,
    )
    loyalty_per_year: float = param(
        0.1, "Attitude-equivalent loyalty a customer gains per year of tenure.", ge=0.0, le=2.0
    )
    loyalty_cap: float = param(0.3, "Maximum loyalty from tenure.", ge=0.0, le=2.0)
    alternative_pull: float = param(
        0.5,
        "How much a customer's felt attitude toward its best-liked competitor, when positive, "
        "counts against its own provider in the leaving hazard: praise of a competitor pulls "
        "customers away.",
        "fitted jointly (experiments/world_fit.toml)",
        ge=0.0,
        le=10.0,
    )
    switch_threshold: float = param(
        0.05,
        "A leaver switches to the competitor it feels best about if that felt attitude exceeds "
        "this; otherwise it leaves the market and becomes a prospect.",
        ge=-5.0,
        le=5.0,
    )


class BehaviourParams(Strict):
    """Customers' behaviour: the same for all companies' customers."""

    problems: ProblemParams = Field(default_factory=ProblemParams)
    voice: VoiceParams = Field(default_factory=VoiceParams)
    attitude: AttitudeParams = Field(default_factory=AttitudeParams)
    word_of_mouth: WordOfMouthParams = Field(default_factory=WordOfMouthParams)
    retention: RetentionParams = Field(default_factory=RetentionParams)


# --------------------------------------------------------------------------- companies


class RefundRule(StrEnum):
    """When a complaint earns a refund."""

    never = "never"
    policy = "policy"
    no_questions = "no_questions"


class Handling(StrEnum):
    """How complaints reach someone who can act."""

    immediate = "immediate"
    fifo_queue = "fifo_queue"


class PolicyParams(Strict):
    """A company's complaint-handling policy (mechanism 4) and CRM programme.

    Give ``preset = "manage"`` or ``"fix"`` to start from a preset; any other
    field given beside it overrides the preset's value.
    """

    preset: Literal["manage", "fix", "custom"] = param(
        "custom", "The preset this policy started from (manage, fix) or custom."
    )
    handling: Handling = param(
        Handling.immediate, "immediate: handled the day it arrives; fifo_queue: a department queue."
    )
    response_days: int = param(
        0, "Minimum days before a complaint in the queue is looked at.", ge=0, le=365
    )
    queue_capacity: float = param(
        1.0,
        "Complaints the queue serves per day per 1,000 people in the market (fifo_queue only).",
        ge=0.0,
        le=1e6,
    )
    reachability: float = param(
        1.0,
        "How easy the company is to reach (1 = one click; phone trees lower it); multiplies voice.",
        ge=0.0,
        le=1.0,
    )
    fix_probability: float = param(
        0.9, "Chance a handled complaint's problem is actually fixed.", ge=0.0, le=1.0
    )
    refund_rule: RefundRule = param(
        RefundRule.no_questions,
        "When a handled case is refunded, if it is neither fixed nor redressed by goodwill (a refund "
        "is never paid besides either): never; policy (serious problems of the company's own making, "
        "with policy_refund_probability); no_questions (every such case, whoever's fault).",
    )
    policy_refund_probability: float = param(
        0.3, "Under refund_rule = policy, chance a serious problem qualifies.", ge=0.0, le=1.0
    )
    refund_share: float = param(1.0, "Refund as a share of the price.", ge=0.0, le=1.0)
    callback_probability: float = param(
        0.0,
        "Chance an unfixed complaint is closed with a promise to call back instead of a refusal.",
        ge=0.0,
        le=1.0,
    )
    callback_kept: float = param(1.0, "Chance a promised callback actually comes.", ge=0.0, le=1.0)
    callback_days: int = param(3, "Days until a promised callback is due.", ge=1, le=365)
    apology: bool = param(True, "The company apologises when it handles a complaint.")
    goodwill_probability: float = param(
        0.5,
        "Chance the company redresses a problem that was not its fault (the dropped air conditioner).",
        ge=0.0,
        le=1.0,
    )
    review_response_probability: float = param(
        0.9,
        "Chance the company answers a negative public review by a customer or ex-customer the next "
        "day with a refund (a fix if refund_rule = never) and, if it apologises, an apology (the pet "
        "store).",
        ge=0.0,
        le=1.0,
    )
    learning_rate: float = param(
        0.5,
        "Share of a defect's cause the company removes per complaint it acts on (each reveals one "
        "defective purchase): daily, defect rate x= (1 - learning_rate x complaints acted on / "
        "purchases). 0 = collects the data and does not act on it.",
        "assumption: no published rate of learning from complaints; swept by "
        "experiments/learning_sensitivity.toml",
        ge=0.0,
        le=100.0,
    )
    crm_touches_per_month: float = param(
        0.5,
        "Acknowledgements, tracking notices, thank-you notes, surveys and promotions per customer.",
        ge=0.0,
        le=300.0,
    )
    shares_service_information: bool = param(
        True,
        "Sales and service share information: a CRM touch to a customer whose complaint is waiting "
        "(in the queue, or for a promised call-back) gets it handled now, instead of a sales pitch "
        "that wears them out (the account manager who knows about the open issue).",
    )
    proactive_follow_ups: bool = param(
        False,
        "Proactive service: a CRM touch to a customer with an open problem the company is not working "
        "on (never voiced, or voiced and left unresolved) asks about it and gets it handled, instead "
        "of a sales pitch that wears them out.",
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"preset": data}
        if isinstance(data, dict) and data.get("preset") in POLICY_PRESETS:
            return {**POLICY_PRESETS[data["preset"]], **data}
        return data


#: Policy presets, stored as differences from the :class:`PolicyParams` defaults (which are
#: the fixing company's policy). A managing company acknowledges, surveys and queues
#: complaints, promises call-backs it often breaks, refunds by policy and learns nothing; a
#: fixing company fixes at once, refunds without questions, apologises, offers goodwill,
#: answers reviews and learns from complaints.
POLICY_PRESETS: dict[str, dict[str, Any]] = {
    "manage": {
        "handling": "fifo_queue",
        "response_days": 3,
        # About the default market's complaint arrival rate (measured: ~0.026 per 1,000 people
        # a day at the managing company): a queue at the edge of overload.
        "queue_capacity": 0.025,
        "reachability": 0.6,
        "fix_probability": 0.5,
        "refund_rule": "policy",
        "callback_probability": 0.8,
        "callback_kept": 0.3,
        "apology": False,
        "goodwill_probability": 0.0,
        "review_response_probability": 0.0,
        "learning_rate": 0.0,
        "crm_touches_per_month": 4.0,
        "shares_service_information": False,
    },
    # The fixing company of BRIEF.md fixes what it hears about at once and shares what service
    # knows with sales; it does not go looking for problems customers never voiced
    # (proactive_follow_ups keeps its default, False, in both presets).
    "fix": {},
}


class PromotionParams(Strict):
    """A promotion: more advertising, and a promise some customers cannot receive."""

    start_day: int = param(0, "First day of the promotion.", ge=0)
    end_day: int = param(90, "Last day of the promotion.", ge=0)
    advertising_lift: float = param(
        2.0,
        "Factor on the company's advertising (Bass p) while the promotion runs.",
        ge=0.0,
        le=1000.0,
    )
    excluded_share: float = param(
        0.0,
        "Share of customers past the delivery boundary who are promised but cannot receive the "
        "offer (free delivery to a home 2,640 feet past the limit): a broken promise by design.",
        "the seeds' appliance store",
        ge=0.0,
        le=1.0,
    )

    @model_validator(mode="after")
    def _check(self) -> PromotionParams:
        if self.end_day < self.start_day:
            raise ValueError(f"end_day ({self.end_day}) is before start_day ({self.start_day})")
        return self


class CompanyParams(Strict):
    """A company: what it promises, what it delivers, what it costs, how it handles complaints."""

    name: str = param("company", "Name shown in results.", min_length=1, max_length=60)
    initial_share: float = param(
        1.0, "Relative weight of this company among day-0 customers.", ge=0.0
    )
    advertising_weight: float = param(
        1.0, "Relative weight of this company's advertising in the market's Bass p.", ge=0.0
    )
    price: float = param(100.0, "Price of a purchase.", ge=0.0)
    quoted_price: float | None = param(
        None,
        "Price quoted by marketing or an estimate; above-quote prices disappoint. None = price.",
        strict=True,
    )
    unit_cost: float = param(
        70.0, "Cost of goods per purchase (the cost to serve the customer comes on top).", ge=0.0
    )
    delivered_quality: float = param(
        0.982,
        "Chance a purchase is free of defects (before learning).",
        "fitted jointly (experiments/world_fit.toml): with TARP's repurchase shares, problems in "
        "about 2% of purchases (a quarter of customers a year) keep the market's churn in its band",
        ge=0.0,
        le=1.0,
    )
    promised_quality: float = param(
        0.982,
        "Quality the marketing promises; a promise above delivery disappoints.",
        "as delivered_quality: an honest default promise (tied in the world fit)",
        ge=0.0,
        le=1.0,
    )
    max_quality: float = param(
        0.995, "Ceiling of delivered quality reachable by learning.", ge=0.0, le=1.0
    )
    promotions: list[PromotionParams] = Field(default_factory=list, description="Promotions run.")
    policy: PolicyParams = Field(
        default_factory=PolicyParams, description="Complaint-handling policy."
    )
    handling_cost: float = param(15.0, "Cost of handling one complaint or callback.", ge=0.0)
    fix_cost: float = param(20.0, "Cost of fixing a problem (repair, replacement).", ge=0.0)
    goodwill_cost: float = param(
        300.0,
        "Cost of one goodwill gesture (a few hundred dollars in the seeds' story).",
        "the seeds",
        ge=0.0,
    )
    crm_cost_per_touch: float = param(0.2, "Cost of one CRM touch.", ge=0.0)
    advertising_cost_per_day: float = param(0.0, "Advertising spend per day.", ge=0.0)
    acquisition_cost: float = param(
        500.0,
        "Cost of winning one customer (sales, set-up, onboarding), paid for every adoption and every "
        "customer switching in, returning ex-customers included.",
        "Reichheld & Sasser (1990): a credit card issuer spent $51 to win a customer who earned it "
        "$30 in the first year; 1.7 x a new customer's first-year profit here (about $290)",
        ge=0.0,
    )
    cost_to_serve_new: float = param(
        8.0,
        "Cost of serving one purchase of a brand-new customer (questions, set-up, mistakes of a "
        "newcomer), on top of unit_cost; it falls with tenure toward cost_to_serve_settled.",
        "Reichheld & Sasser (1990): long-standing customers cost less to serve; the size is an "
        "assumption, kept modest because Reinartz & Kumar (2000) find it does not hold everywhere",
        ge=0.0,
    )
    cost_to_serve_settled: float = param(
        2.0,
        "Cost of serving one purchase of a long-standing customer: the floor the cost to serve "
        "falls to.",
        ge=0.0,
    )
    cost_to_serve_settling_years: float = param(
        1.0,
        "Mean years over which the cost to serve falls from new to settled: cost = settled + (new - "
        "settled) x exp(-tenure / settling years).",
        gt=0.0,
        le=100.0,
    )

    @model_validator(mode="after")
    def _check(self) -> CompanyParams:
        if self.max_quality < self.delivered_quality:
            raise ValueError("max_quality must be at least delivered_quality")
        if self.cost_to_serve_settled > self.cost_to_serve_new:
            raise ValueError("cost_to_serve_settled must be at most cost_to_serve_new")
        return self


def _default_companies() -> list[CompanyParams]:
    return [
        CompanyParams(name="managing", policy=PolicyParams(preset="manage")),
        CompanyParams(name="fixing", policy=PolicyParams(preset="fix")),
    ]


class JourneyParams(Strict):
    """Optional event log of a random sample of customers, with bounded memory."""

    sample_size: int = param(
        0, "Number of customers whose journeys are logged (0 = off).", ge=0, le=100_000
    )
    max_events: int = param(
        200_000, "At most this many events are kept; later ones are counted, not kept.", ge=1
    )


class ModelParams(Strict):
    """Everything a run needs."""

    market: MarketParams = Field(default_factory=MarketParams)
    network: NetworkParams = Field(default_factory=NetworkParams)
    behaviour: BehaviourParams = Field(default_factory=BehaviourParams)
    companies: list[CompanyParams] = Field(
        default_factory=_default_companies, min_length=1, max_length=10
    )
    journey: JourneyParams = Field(default_factory=JourneyParams)

    @model_validator(mode="after")
    def _check(self) -> ModelParams:
        has_edges = self.network.kind not in (NetworkKind.fully_mixed, NetworkKind.file)
        if has_edges and self.network.mean_degree >= self.market.customers:
            raise ValueError(
                f"network.mean_degree ({self.network.mean_degree}) must be below "
                f"market.customers ({self.market.customers})"
            )
        names = [c.name for c in self.companies]
        if len(set(names)) != len(names):
            raise ValueError(f"company names must be distinct, got {names}")
        for i, c in enumerate(self.companies):
            for p in c.promotions:
                if p.start_day > self.market.days:
                    raise ValueError(f"companies.{i}.promotions: start_day is after the last day")
        if sum(c.initial_share for c in self.companies) <= 0 and self.market.initial_adoption > 0:
            raise ValueError(
                "at least one company needs initial_share > 0 when initial_adoption > 0"
            )
        return self
