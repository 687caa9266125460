"""The dashboard's controls: what each sets in the parameter schema and what it means in the world.

Every control is a :class:`Control`: a dotted key into
:class:`~cxsim.params.ModelParams` (relative to a company for the company
levers), a label, a sentence for students saying what it means in the world,
and a widget with bounds. The schema's own description and bounds are shown as
the control's tooltip, and the schema is what validates the values:
:func:`build_params` turns the page's values into validated parameters or
raises :class:`ControlError` with a message naming the control.

The page's controls are also the server's allowlist: :func:`build_params`
accepts only the settings and the ranges the controls offer (a request that
names any other field, such as a network file, or a value past a slider's end,
is refused) and resolves them through :func:`cxsim.params.resolve`, like every
other input. A story whose contacts come from a network file (a scenario named
on the command line) may keep that file: ``network.kind = "file"`` is offered
for it alone, its path is the story's own, and the file fixes its market size.

The dashboard starts every story at a classroom size (:data:`DEFAULT_CUSTOMERS`
people for :data:`DEFAULT_DAYS` days) so that a change shows within about a
second, and refuses markets beyond :data:`MAX_CUSTOMERS` and
:data:`MAX_PERSON_DAYS` with a message rather than freezing the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic.fields import FieldInfo

from cxsim.errors import InputError
from cxsim.params import (
    NETWORK_KIND_WORDS,
    CompanyParams,
    ModelParams,
    NetworkKind,
    ParameterError,
    PolicyParams,
    field_info,
    resolve,
)
from cxsim.params import bounds as schema_bounds
from cxsim.params.resolve import Allowed

#: People in the market when a story is opened (the story files use 20,000; this answers in ~1 s).
DEFAULT_CUSTOMERS = 2_000
#: Days simulated when a story is opened.
DEFAULT_DAYS = 365
#: People drawn in the network picture by default.
DEFAULT_DRAWN = 1_000
#: Largest market the page runs (``cxsim run`` has no such limit).
MAX_CUSTOMERS = 20_000
#: Longest run the page accepts.
MAX_DAYS = 3_650
#: Largest customers x days the page runs: a story file's full size, about half a minute.
MAX_PERSON_DAYS = 20_000 * 1_095
#: Most people drawn in the network picture (a browser draws a few thousand points smoothly).
MAX_DRAWN = 3_000

#: Network shapes the page offers (not files: the page reads no file a browser names).
NETWORK_KINDS: dict[str, str] = {
    kind.value: words for kind, words in NETWORK_KIND_WORDS.items() if kind != NetworkKind.file
}
#: The extra choice of a story whose contacts come from its own network file.
STORY_FILE_OPTION = (NetworkKind.file.value, "the story's own contacts (its network file)")

PRESET_OPTIONS = (("manage", "manage"), ("fix", "fix"), ("custom", "custom"))


class ControlError(InputError):
    """A value on the page that cannot be run; the message names the control and says why."""


@dataclass(frozen=True)
class Control:
    """One control on the page.

    Attributes:
        key: dotted key into ``ModelParams``; for company levers, relative to the company
            (``policy.refund_rule``); ``drawn`` and ``price_over_quote`` are the dashboard's own.
        label: short name shown above the widget.
        help: what the control means in the world, in a sentence for students.
        widget: ``slider``, ``radio``, ``number``, ``check`` or ``dropdown``.
        minimum: smallest value the widget offers.
        maximum: largest value the widget offers.
        step: the widget's step.
        options: (value, label) pairs for radio buttons and drop-downs.
        schema_key: the schema field whose description and bounds make the tooltip
            (``companies.N.`` prefixed for company levers).

    """

    key: str
    label: str
    help: str
    widget: str
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    schema_key: str | None = None

    @property
    def tooltip(self) -> str:
        """The schema's description of the field, with its bounds and dotted key."""
        if self.schema_key is None:
            return self.help
        info = schema_field(self.schema_key)
        bounds = describe_bounds(info)
        return f"{info.description} {bounds}[{self.schema_key}]".strip()


# --------------------------------------------------------------------------- the controls

#: Controls of the whole market: size, luck, network and word of mouth.
MARKET_CONTROLS: tuple[Control, ...] = (
    Control(
        "market.customers",
        "People in the market",
        "Customers and prospects. About 2,000 answer within a second; larger markets take "
        f"longer (at most {MAX_CUSTOMERS:,} here).",
        "number",
        2,
        MAX_CUSTOMERS,
        1,
        schema_key="market.customers",
    ),
    Control(
        "market.days",
        "Days",
        "How long the story runs: 365 is one year.",
        "number",
        1,
        MAX_DAYS,
        1,
        schema_key="market.days",
    ),
    Control(
        "market.seed",
        "Seed (the market's luck)",
        "The same seed gives the same people, friendships and chance events; change it to "
        "see another draw of luck.",
        "number",
        0,
        None,
        1,
        schema_key="market.seed",
    ),
    Control(
        "network.kind",
        "Who knows whom",
        "The shape of the customers' social network, along which word of mouth travels.",
        "dropdown",
        options=tuple(NETWORK_KINDS.items()),
        schema_key="network.kind",
    ),
    Control(
        "network.mean_degree",
        "Contacts per person",
        "How many people each customer talks to, on average.",
        "slider",
        2,
        30,
        2,
        schema_key="network.mean_degree",
    ),
    Control(
        "behaviour.word_of_mouth.negative_audience",
        "An unhappy customer tells",
        "How many people hear about a bad experience (TARP: 9 to 10).",
        "slider",
        0,
        20,
        0.5,
        schema_key="behaviour.word_of_mouth.negative_audience",
    ),
    Control(
        "behaviour.word_of_mouth.positive_audience",
        "A happy customer tells",
        "How many people hear about a good one (TARP: 4 to 5; later studies find good news "
        "travels at least as often).",
        "slider",
        0,
        20,
        0.5,
        schema_key="behaviour.word_of_mouth.positive_audience",
    ),
    Control(
        "drawn",
        "People drawn in the picture",
        f"How many customers the network picture shows (at most {MAX_DRAWN:,}); it does not "
        "change the market.",
        "number",
        10,
        MAX_DRAWN,
        10,
    ),
)

#: Levers of each company: its policy preset and the policies that matter in the stories.
COMPANY_LEVERS: tuple[Control, ...] = (
    Control(
        "policy.preset",
        "Policy",
        "manage: acknowledge, survey, queue, promise to call back, refund by policy. fix: fix "
        "at once, refund without questions, apologise. custom: the story's own policy.",
        "radio",
        options=PRESET_OPTIONS,
        schema_key="companies.N.policy.preset",
    ),
    Control(
        "delivered_quality",
        "Delivered quality",
        "How often a purchase is free of defects.",
        "slider",
        0.5,
        1.0,
        0.01,
        schema_key="companies.N.delivered_quality",
    ),
    Control(
        "promised_quality",
        "Promised quality",
        "What the advertising promises. Promising more than is delivered disappoints "
        "customers even when nothing is broken.",
        "slider",
        0.5,
        1.0,
        0.01,
        schema_key="companies.N.promised_quality",
    ),
    Control(
        "price_over_quote",
        "Bill above the quote (%)",
        "How much the bill exceeds the quote or estimate (the dealership: 15%).",
        "slider",
        0,
        50,
        1,
        schema_key="companies.N.price",
    ),
    Control(
        "policy.handling",
        "Complaints are handled",
        "at once: whoever hears the complaint deals with it. queue: it waits in a department "
        "queue, oldest first.",
        "radio",
        options=(("immediate", "at once"), ("fifo_queue", "in a queue")),
        schema_key="companies.N.policy.handling",
    ),
    Control(
        "policy.queue_capacity",
        "Queue capacity",
        "Complaints the department works through per day, per 1,000 people in the market "
        "(queue only; the manage preset's queue is at the edge of overload).",
        "number",
        0,
        None,
        0.005,
        schema_key="companies.N.policy.queue_capacity",
    ),
    Control(
        "policy.refund_rule",
        "Refunds",
        "never; by policy (some serious problems); or without questions.",
        "radio",
        options=(("never", "never"), ("policy", "by policy"), ("no_questions", "no questions")),
        schema_key="companies.N.policy.refund_rule",
    ),
    Control(
        "policy.callback_kept",
        "Call-back promises kept",
        "Share of promised call-backs that actually come. A broken promise hurts more than "
        "silence.",
        "slider",
        0,
        1,
        0.05,
        schema_key="companies.N.policy.callback_kept",
    ),
    Control(
        "policy.goodwill_probability",
        "Goodwill",
        "Chance the company makes good a problem that was not its fault (the air conditioner "
        "dropped from a window).",
        "slider",
        0,
        1,
        0.05,
        schema_key="companies.N.policy.goodwill_probability",
    ),
    Control(
        "policy.review_response_probability",
        "Listens to reviews",
        "Chance it answers a bad public review by a customer or ex-customer the next day with "
        "a refund (the pet store).",
        "slider",
        0,
        1,
        0.05,
        schema_key="companies.N.policy.review_response_probability",
    ),
    Control(
        "policy.crm_touches_per_month",
        "CRM touches per month",
        "Acknowledgements, tracking notices, surveys and promotions per customer: welcome when "
        "all is well, wearing while a problem is open.",
        "slider",
        0,
        20,
        0.5,
        schema_key="companies.N.policy.crm_touches_per_month",
    ),
    Control(
        "policy.shares_service_information",
        "Sales knows about open complaints",
        "The account manager who calls knows the client's complaint waiting with service and "
        "gets it handled, instead of pitching.",
        "check",
        schema_key="companies.N.policy.shares_service_information",
    ),
    Control(
        "policy.proactive_follow_ups",
        "Proactive follow-ups",
        "A call to a customer asks about problems they never complained about and gets them "
        "handled, instead of pitching. Costs handling, fixes and refunds.",
        "check",
        schema_key="companies.N.policy.proactive_follow_ups",
    ),
    Control(
        "promotion_excluded_share",
        "Promotion it cannot deliver",
        "Share of customers promised a promotion they cannot get (free delivery just past the "
        "boundary). Only for a company running a promotion.",
        "slider",
        0,
        0.5,
        0.01,
        schema_key="companies.N.promotions.N.excluded_share",
    ),
)

CONTROLS_BY_KEY: dict[str, Control] = {c.key: c for c in (*MARKET_CONTROLS, *COMPANY_LEVERS)}


# --------------------------------------------------------------------------- the schema


def schema_field(dotted: str) -> FieldInfo:
    """The pydantic field at ``dotted`` (list items written ``N``), e.g. ``companies.N.price``."""
    return field_info(dotted)


def describe_bounds(info: FieldInfo) -> str:
    """The field's bounds for a tooltip, e.g. ``(0 to 1) ``, or an empty string."""
    low, high = schema_bounds(info)
    if low is not None and high is not None:
        return f"({low:g} to {high:g}) "
    if low is not None:
        return f"(at least {low:g}) "
    if high is not None:
        return f"(at most {high:g}) "
    return ""


# --------------------------------------------------------------------------- values


def market_values(params: ModelParams, drawn: int = DEFAULT_DRAWN) -> dict[str, Any]:
    """The market controls' values for ``params``, at the dashboard's default size.

    A story whose contacts come from a network file keeps the market size the file holds.
    """
    data = params.model_dump(mode="json")
    values = {c.key: _get(data, c.key) for c in MARKET_CONTROLS if c.key != "drawn"}
    own_file = params.network.kind == NetworkKind.file
    values["market.customers"] = params.market.customers if own_file else DEFAULT_CUSTOMERS
    values["market.days"] = DEFAULT_DAYS
    values["drawn"] = min(drawn, values["market.customers"])
    return values


def lever_values(company: CompanyParams) -> dict[str, Any]:
    """The company levers' values for ``company``."""
    data = company.model_dump(mode="json")
    values = {c.key: _get(data, c.key) for c in COMPANY_LEVERS if c.key in _PLAIN_LEVERS}
    quoted = company.quoted_price if company.quoted_price is not None else company.price
    over = (company.price / quoted - 1.0) * 100.0 if quoted > 0 else 0.0
    values["price_over_quote"] = round(over, 2)
    shares = [p.excluded_share for p in company.promotions]
    values["promotion_excluded_share"] = max(shares) if shares else 0.0
    return values


def preset_lever_values(preset: str) -> dict[str, Any]:
    """The policy levers' values of a preset (``manage`` or ``fix``)."""
    policy = PolicyParams(preset=preset).model_dump(mode="json")  # type: ignore[arg-type]
    return {
        c.key: policy[c.key.removeprefix("policy.")]
        for c in COMPANY_LEVERS
        if c.key.startswith("policy.")
    }


_PLAIN_LEVERS = frozenset(
    c.key for c in COMPANY_LEVERS if c.key not in ("price_over_quote", "promotion_excluded_share")
)


def _get(data: dict[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        node = node[part]
    return node


# --------------------------------------------------------------------------- building parameters

#: Controls of the page's own, which set no one schema field directly.
PAGE_CONTROLS = frozenset({"drawn", "price_over_quote", "promotion_excluded_share"})


def allowed(control: Control) -> Allowed:
    """What the page accepts for ``control``: its widget's range or options, else the schema's."""
    if control.options:
        return Allowed(options=tuple(value for value, _ in control.options))
    if control.widget == "check":
        return Allowed(options=(True, False))
    low, high = control.minimum, control.maximum
    if control.schema_key is not None and control.key not in PAGE_CONTROLS:
        schema_low, schema_high = schema_bounds(field_info(control.schema_key))
        low = schema_low if low is None else low
        high = schema_high if high is None else high
    return Allowed(low=low, high=high)


def market_controls(story_files: bool) -> tuple[Control, ...]:
    """The market controls, with the story's own network file among the shapes if ``story_files``."""
    if not story_files:
        return MARKET_CONTROLS
    return tuple(
        replace(c, options=(*c.options, STORY_FILE_OPTION)) if c.key == "network.kind" else c
        for c in MARKET_CONTROLS
    )


def _allowlist(base: ModelParams) -> dict[str, Allowed]:
    """Generic dotted key -> what the page accepts: the controls, and what page controls set."""
    own_file = base.network.kind == NetworkKind.file
    limits = {c.key: allowed(c) for c in market_controls(own_file) if c.key not in PAGE_CONTROLS}
    for lever in COMPANY_LEVERS:
        if lever.key not in PAGE_CONTROLS:
            limits[f"companies.N.{lever.key}"] = allowed(lever)
    # Set from checked page controls (the bill above the quote, the promotion it cannot
    # deliver) or from a checked lever (a delivery above the learning ceiling raises it).
    for derived in ("price", "quoted_price", "promotions.N.excluded_share", "max_quality"):
        limits[f"companies.N.{derived}"] = Allowed()
    return limits


def build_params(
    base: ModelParams,
    market: dict[str, Any],
    companies: list[dict[str, Any]],
) -> tuple[ModelParams, int]:
    """Validated parameters and the number of people to draw, from the page's values.

    Args:
        base: the story's parameters (what the controls do not set comes from here).
        market: market control key -> value.
        companies: per company, lever key -> value.

    Returns:
        The parameters, and how many people the network picture draws.

    Raises:
        ControlError: a value the schema or the page refuses; the message names the control.

    """
    if not isinstance(market, dict) or not isinstance(companies, list):
        raise ControlError("the page sent settings of the wrong shape")
    if len(companies) != len(base.companies):
        raise ControlError(
            f"the story has {len(base.companies)} companies but the page sent {len(companies)}"
        )
    overrides: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key, value in market.items():
        if key == "drawn":
            continue
        control = _known(MARKET_CONTROLS_BY_KEY, key, "the market")
        overrides[key] = value
        names[key] = control.label
    for i, levers in enumerate(companies):
        if not isinstance(levers, dict):
            raise ControlError("the page sent settings of the wrong shape")
        _company_overrides(base, i, levers, overrides, names)
    try:
        params = resolve(base, overrides, label="page", names=names, limits=_allowlist(base))
    except ParameterError as err:
        raise ControlError(str(err).removeprefix("page: ")) from None
    _check_story_file(base, params)
    check_size(params)
    return params, _check_drawn(market.get("drawn"), params.market.customers)


MARKET_CONTROLS_BY_KEY: dict[str, Control] = {c.key: c for c in MARKET_CONTROLS}
LEVERS_BY_KEY: dict[str, Control] = {c.key: c for c in COMPANY_LEVERS}


def _known(controls: dict[str, Control], key: Any, where: str) -> Control:
    control = controls.get(key) if isinstance(key, str) else None
    if control is None:
        raise ControlError(f"{where}: {str(key)[:40]!r} is not a control of this page")
    return control


def _company_overrides(
    base: ModelParams,
    i: int,
    levers: dict[str, Any],
    overrides: dict[str, Any],
    names: dict[str, str],
) -> None:
    """One company's levers as dotted-key overrides (and how errors name them)."""
    company = base.companies[i]

    def add(key: str, value: Any, control: Control) -> None:
        overrides[f"companies.{i}.{key}"] = value
        names[f"companies.{i}.{key}"] = f"{control.label} ({company.name})"

    for key, value in levers.items():
        control = _known(LEVERS_BY_KEY, key, company.name)
        if key == "policy.preset":
            # A newly chosen preset replaces the story's policy; the levers then set its fields.
            if value != company.policy.preset:
                add(key, value, control)
        elif key == "price_over_quote":
            _bill_above_quote(company, value, control, add)
        elif key == "promotion_excluded_share":
            _check_page_number(control, value, company.name)
            for j in range(len(company.promotions)):
                add(f"promotions.{j}.excluded_share", value, control)
        else:
            if control.widget == "check" and isinstance(value, list):
                value = bool(value)  # a checklist's value is the list of ticked options
            add(key, value, control)
    delivered = levers.get("delivered_quality")
    if _is_number(delivered) and delivered > company.max_quality:
        # Learning cannot lower quality: a delivery above the ceiling raises the ceiling.
        add("max_quality", delivered, LEVERS_BY_KEY["delivered_quality"])


def _bill_above_quote(company: CompanyParams, over: Any, control: Control, add: Any) -> None:
    """The bill above the quote, in %, sets the price from the quote."""
    _check_page_number(control, over, company.name)
    quoted = company.quoted_price if company.quoted_price is not None else company.price
    add("quoted_price", quoted, control)
    add("price", round(quoted * (1.0 + over / 100.0), 6), control)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_page_number(control: Control, value: Any, company: str) -> None:
    """A page control's value must be a number within its widget's range."""
    where = f"{control.label} ({company})"
    if not _is_number(value):
        raise ControlError(f"{where}: expected a number, got {str(value)[:40]!r}")
    assert control.minimum is not None
    assert control.maximum is not None
    if not control.minimum <= value <= control.maximum:
        raise ControlError(
            f"{where}: expected a number from {control.minimum:g} to {control.maximum:g}, "
            f"got {value:g}"
        )


def _check_story_file(base: ModelParams, params: ModelParams) -> None:
    """A story's own network file is read as the story has it: same file, same market size."""
    if params.network.kind != NetworkKind.file:
        return
    # The allowlist offers a file only to a story that has one, and never another path.
    if base.network.kind != NetworkKind.file or params.network.path != base.network.path:
        raise ControlError("Who knows whom: the page reads no network file but a story's own")
    if params.market.customers != base.market.customers:
        label = CONTROLS_BY_KEY["market.customers"].label
        raise ControlError(
            f"{label}: this story's contacts come from its network file, which holds a market of "
            f"{base.market.customers:,} people; choose another 'Who knows whom' to change the size"
        )


def check_size(params: ModelParams) -> None:
    """Refuse a market too large for the page, with a message naming the control."""
    m = params.market
    if m.customers > MAX_CUSTOMERS:
        raise ControlError(
            f"People in the market: {m.customers:,} is too many for the page (at most "
            f"{MAX_CUSTOMERS:,} here; `cxsim run` runs larger markets)"
        )
    if m.days > MAX_DAYS:
        raise ControlError(f"Days: {m.days:,} is too long for the page (at most {MAX_DAYS:,})")
    if m.customers * m.days > MAX_PERSON_DAYS:
        raise ControlError(
            f"{m.customers:,} people for {m.days:,} days is too large for the page (at most "
            f"{MAX_PERSON_DAYS:,} person-days; `cxsim run` runs larger markets)"
        )


def _check_drawn(drawn: Any, customers: int) -> int:
    label = CONTROLS_BY_KEY["drawn"].label
    if drawn is None:
        raise ControlError(f"{label}: enter a whole number from 10 to {MAX_DRAWN:,}")
    if isinstance(drawn, bool) or not isinstance(drawn, int | float) or drawn != int(drawn):
        raise ControlError(f"{label}: expected a whole number, got {drawn!r}")
    if not 10 <= drawn <= MAX_DRAWN:
        raise ControlError(
            f"{label}: {int(drawn):,} is outside 10 to {MAX_DRAWN:,} (a browser draws a few "
            "thousand people smoothly)"
        )
    return min(int(drawn), customers)
