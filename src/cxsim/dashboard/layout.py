"""The page: controls on the left, what happens in the market on the right.

Component ids are the contract between this module, the callbacks and the
tests. Controls use pattern-matching ids: ``{"type": "market", "key": K}`` for
market controls and ``{"type": "lever", "company": i, "key": K}`` for company
levers, where ``K`` is the control's key with dots written ``__``.
"""

from __future__ import annotations

import math
from typing import Any

from dash import dcc, html

from cxsim.dashboard import controls
from cxsim.dashboard.controls import COMPANY_LEVERS, Control
from cxsim.dashboard.figures import empty_figure
from cxsim.dashboard.stories import Story
from cxsim.palette import company_colour
from cxsim.params import NetworkKind

GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}

#: Styles of the page, served inline so the page needs no asset files.
CSS = """
body { margin: 0; background: #F4F6F8; color: #263238;
       font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; }
.cx-header { background: #263238; color: white; padding: 10px 20px; display: flex;
             align-items: baseline; gap: 16px; }
.cx-header h1 { font-size: 20px; margin: 0; font-weight: 600; }
.cx-header span { color: #B0BEC5; font-size: 13px; }
.cx-body { display: flex; align-items: flex-start; }
.cx-sidebar { width: 380px; flex: none; height: calc(100vh - 44px); overflow-y: auto;
              position: sticky; top: 0; padding: 10px 12px 40px; box-sizing: border-box;
              background: #FAFBFC; border-right: 1px solid #DDE3E8; }
.cx-main { flex: 1; min-width: 0; padding: 10px 16px 40px; }
.cx-card { background: white; border: 1px solid #DDE3E8; border-radius: 8px; padding: 10px 12px;
           margin-bottom: 10px; }
.cx-card h3 { font-size: 14px; margin: 0 0 6px; text-transform: uppercase; letter-spacing: .04em;
              color: #546E7A; }
.cx-company h3 { text-transform: none; letter-spacing: 0; font-size: 16px; }
.cx-control { margin: 8px 0 10px; }
.cx-control label { font-weight: 600; font-size: 13px; display: block; margin-bottom: 2px;
                    cursor: help; }
.cx-help { font-size: 11.5px; color: #607D8B; line-height: 1.35; margin-top: 2px; }
.cx-try-badge { background: #FFF3CD; color: #7A5B00; border-radius: 4px; padding: 0 5px;
                font-size: 11px; margin-left: 6px; font-weight: 600; }
.cx-highlight { background: #FFFBEA; border-radius: 6px; padding: 2px 6px; margin: 6px -6px; }
.cx-control input[type=number] { width: 120px; padding: 4px 6px; border: 1px solid #B0BEC5;
                                 border-radius: 4px; font-size: 13px; }
.cx-row { display: flex; gap: 12px; flex-wrap: wrap; }
.cx-row > .cx-card { flex: 1 1 380px; min-width: 0; }
.cx-message { padding: 8px 12px; border-radius: 6px; margin-bottom: 10px; font-size: 13.5px; }
.cx-ok { background: #E8F5E9; color: #1B5E20; border: 1px solid #C8E6C9; }
.cx-error { background: #FDECEA; color: #8E1B10; border: 1px solid #F5C2BC; font-weight: 600; }
.cx-kpis { display: flex; gap: 10px; flex-wrap: wrap; margin-bottom: 10px; }
.cx-kpi { background: white; border: 1px solid #DDE3E8; border-radius: 8px; padding: 8px 12px;
          flex: 1 1 260px; border-top: 4px solid #999; }
.cx-kpi h4 { margin: 0 0 4px; font-size: 14px; }
.cx-kpi table { font-size: 12.5px; border-collapse: collapse; width: 100%; }
.cx-kpi td { padding: 1px 4px; }
.cx-kpi td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cx-kpi .delta-up { color: #1A9850; } .cx-kpi .delta-down { color: #D73027; }
.cx-story { font-size: 12.5px; margin: 0; padding-left: 18px; max-height: 260px; overflow-y: auto; }
.cx-story li { margin: 1px 0; }
.cx-good { color: #1A9850; } .cx-bad { color: #D73027; } .cx-neutral { color: #455A64; }
.cx-tip { background: #FFFBEA; border: 1px solid #F3E3A3; border-radius: 6px; padding: 6px 8px;
          font-size: 12.5px; margin-top: 8px; }
.cx-stories { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
              gap: 8px; margin-top: 8px; }
.cx-stories > div { border: 1px solid #E3E7EA; border-radius: 6px; padding: 6px 8px;
                    font-size: 12.5px; background: #FCFCFD; }
.cx-button { background: #37474F; color: white; border: none; border-radius: 5px;
             padding: 5px 12px; cursor: pointer; font-size: 13px; }
.cx-button:hover { background: #263238; }
.cx-button-light { background: #ECEFF1; color: #263238; border: 1px solid #CFD8DC; }
.cx-button-light:hover { background: #DDE3E8; }
.cx-player { display: flex; align-items: center; gap: 10px; }
.cx-player .cx-slider { flex: 1; min-width: 0; }
.cx-day { font-variant-numeric: tabular-nums; min-width: 64px; font-weight: 600; }
details.cx-card > summary { cursor: pointer; font-weight: 600; font-size: 14px; }
"""

INDEX = (
    """<!DOCTYPE html>
<html>
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>"""
    + CSS
    + """</style>
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
)


def dom_key(key: str) -> str:
    """A control key as written in a component id (dots become ``__``)."""
    return key.replace(".", "__")


def control_key(dom: str) -> str:
    """The control key of a component id's ``key`` (``__`` becomes dots)."""
    return dom.replace("__", ".")


def market_id(key: str) -> dict[str, Any]:
    """The component id of a market control."""
    return {"type": "market", "key": dom_key(key)}


def lever_id(company: int, key: str) -> dict[str, Any]:
    """The component id of a company lever."""
    return {"type": "lever", "company": company, "key": dom_key(key)}


# --------------------------------------------------------------------------- controls


def widget(
    control: Control, component_id: dict[str, Any], value: Any, disabled: bool = False
) -> Any:
    """The input component of ``control``."""
    if control.widget == "slider":
        return html.Div(
            dcc.Slider(
                id=component_id,
                min=control.minimum,
                max=control.maximum,
                step=control.step,
                value=value,
                marks=None,
                tooltip={"placement": "bottom", "always_visible": False},
                updatemode="mouseup",
                disabled=disabled,
            ),
            className="cx-slider",
        )
    if control.widget == "number":
        return dcc.Input(
            id=component_id,
            type="number",
            value=value,
            step=control.step if control.step is not None else "any",
            debounce=True,
            disabled=disabled,
        )
    if control.widget == "radio":
        return dcc.RadioItems(
            id=component_id,
            options=[{"label": label, "value": v} for v, label in control.options],
            value=value,
            inline=True,
            inputStyle={"marginRight": "3px", "marginLeft": "8px"},
        )
    if control.widget == "dropdown":
        return dcc.Dropdown(
            id=component_id,
            options=[{"label": label, "value": v} for v, label in control.options],
            value=value,
            clearable=False,
            searchable=False,
        )
    if control.widget == "check":
        return dcc.Checklist(
            id=component_id,
            options=[{"label": " yes", "value": "yes"}],
            value=["yes"] if value else [],
            inline=True,
        )
    raise ValueError(f"unknown widget {control.widget!r}")


def control_block(
    control: Control,
    component_id: dict[str, Any],
    value: Any,
    *,
    disabled: bool = False,
    highlight: bool = False,
) -> html.Div:
    """A control with its label, its explanation, and the schema's description as tooltip."""
    label: list[Any] = [control.label]
    if highlight:
        label.append(html.Span("try this", className="cx-try-badge"))
    return html.Div(
        [
            html.Label(label, title=control.tooltip),
            widget(control, component_id, value, disabled),
            html.Div(control.help, className="cx-help"),
        ],
        className="cx-control cx-highlight" if highlight else "cx-control",
    )


def market_card(values: dict[str, Any], story_files: bool = False) -> html.Div:
    """The market's controls (offering a story's own network file if any story has one)."""
    return html.Div(
        [
            html.H3("The market"),
            *[
                control_block(c, market_id(c.key), values.get(c.key))
                for c in controls.market_controls(story_files)
            ],
        ],
        className="cx-card",
    )


def company_card(i: int, story: Story) -> html.Div:
    """One company's levers, starting from its policy in ``story``."""
    company = story.params.companies[i]
    values = controls.lever_values(company)
    color = company_colour(i)
    tip = story.tip
    blocks = []
    for lever in COMPANY_LEVERS:
        disabled = lever.key == "promotion_excluded_share" and not company.promotions
        highlight = tip is not None and tip.company == i and tip.lever == lever.key
        blocks.append(
            control_block(
                lever,
                lever_id(i, lever.key),
                values[lever.key],
                disabled=disabled,
                highlight=highlight,
            )
        )
    return html.Div(
        [html.H3(company.name, style={"color": color}), *blocks],
        className="cx-card cx-company",
        style={"borderLeft": f"5px solid {color}"},
    )


def company_cards(story: Story) -> list[html.Div]:
    """The levers of every company of ``story``."""
    return [company_card(i, story) for i in range(len(story.params.companies))]


def story_card(stories: dict[str, Story], current: Story) -> html.Div:
    """The story picker, what the story is about and what to try."""
    return html.Div(
        [
            html.H3("Story"),
            dcc.Dropdown(
                id="story-select",
                options=[{"label": s.label, "value": name} for name, s in stories.items()],
                value=current.name,
                clearable=False,
                searchable=False,
            ),
            html.Div(story_text(current), id="story-text"),
        ],
        className="cx-card",
    )


def opening_values(story: Story) -> dict[str, Any]:
    """The market controls' values when ``story`` opens: its settings at its opening size."""
    values = controls.market_values(story.params)
    values.update(story.opening)
    values["drawn"] = min(values["drawn"], values["market.customers"])
    return values


def story_text(story: Story) -> list[Any]:
    """The story's one-line description, what it shows as it opens, what to try, its size."""
    size = story.params.market
    opening = story.opening
    parts: list[Any] = [html.Div(story.title, className="cx-help", style={"fontSize": "12.5px"})]
    if story.claim is not None:
        names = [c.name for c in story.params.companies]
        parts.append(
            html.Div(
                [
                    html.B("What you will see: "),
                    f"{story.claim.words(names)}. {story.claim.caveat}".strip(),
                ],
                className="cx-tip",
                id="story-claim",
            )
        )
    if story.tip is not None:
        parts.append(html.Div([html.B("What to try: "), story.tip.text], className="cx-tip"))
    parts.append(
        html.Div(
            f"The story's file runs {size.customers:,} people for {size.days:,} days; the page "
            f"opens it at {opening['market.customers']:,} for {opening['market.days']:,} days, "
            "where its lesson shows and the page still answers within a few seconds.",
            className="cx-help",
        )
    )
    return parts


def compare_card() -> html.Div:
    """The side-by-side switch and the baseline button."""
    return html.Div(
        [
            html.H3("Side by side"),
            dcc.Checklist(
                id="compare-toggle",
                options=[
                    {"label": " compare with baseline A (same market, same luck)", "value": "on"}
                ],
                value=[],
            ),
            html.Div(
                "A runs the same people, network and seed as your settings, with the baseline's "
                "company policies; the charts show the difference B - A.",
                className="cx-help",
            ),
            html.Div(
                [
                    html.Button(
                        "Make these policies baseline A",
                        id="baseline-button",
                        className="cx-button cx-button-light",
                        n_clicks=0,
                    ),
                ],
                style={"marginTop": "6px"},
            ),
            html.Div(
                "Baseline A: the story's own policies.", id="baseline-label", className="cx-help"
            ),
        ],
        className="cx-card",
    )


def export_card() -> html.Div:
    """Downloads: the settings as a scenario file, the results as CSV, the page as PNG."""
    buttons = [
        ("export-toml", "Settings (.toml)"),
        ("export-csv", "Results (.csv)"),
        ("export-png", "Page (.png)"),
    ]
    return html.Div(
        [
            html.H3("Take it with you"),
            html.Div(
                [
                    html.Button(label, id=ident, className="cx-button cx-button-light", n_clicks=0)
                    for ident, label in buttons
                ],
                style={"display": "flex", "gap": "6px", "flexWrap": "wrap"},
            ),
            html.Div(
                "Settings: a scenario file of the run shown (your settings B, not baseline A); "
                "cxsim run FILE gives the same numbers. Results: its daily figures per company, "
                "as cxsim run writes them. Page: a picture of the charts and key figures.",
                className="cx-help",
            ),
            html.Div(id="export-status", className="cx-help", role="status"),
            dcc.Download(id="download"),
        ],
        className="cx-card",
    )


def try_panel(stories: dict[str, Story]) -> html.Details:
    """What to try: each seed story and the lever that matters in it, with a button to open it."""
    items = []
    for name, story in stories.items():
        if story.tip is None:
            continue
        items.append(
            html.Div(
                [
                    html.B(story.label),
                    html.Div(story.title, className="cx-help"),
                    html.Div(story.tip.text, style={"margin": "4px 0"}),
                    html.Button(
                        "Open this story",
                        id={"type": "open-story", "story": name},
                        className="cx-button cx-button-light",
                        n_clicks=0,
                    ),
                ]
            )
        )
    return html.Details(
        [
            html.Summary(
                "What to try: the stories from the seeds, and the lever that matters in each"
            ),
            html.Div(items, className="cx-stories"),
        ],
        className="cx-card",
        id="try-panel",
    )


# --------------------------------------------------------------------------- views


def graph(component_id: str, title: str, height: int = 300) -> dcc.Graph:
    """A chart, blank until the first run arrives."""
    return dcc.Graph(
        id=component_id,
        figure=empty_figure(title, "simulating ...", height),
        config=GRAPH_CONFIG,
        style={"height": f"{height}px"},
    )


def network_card(days: int) -> html.Div:
    """The network picture with its time slider, play button and colouring."""
    return html.Div(
        [
            html.H3("The customer network"),
            html.Div(
                [
                    html.Button("Play", id="play-button", className="cx-button", n_clicks=0),
                    html.Div(
                        dcc.Slider(
                            id="day-slider",
                            min=0,
                            max=days,
                            step=1,
                            value=days,
                            marks=_day_marks(days),
                            updatemode="drag",
                            allow_direct_input=False,
                        ),
                        className="cx-slider",
                    ),
                    html.Span(f"day {days}", id="day-label", className="cx-day"),
                ],
                className="cx-player",
            ),
            dcc.RadioItems(
                id="color-by",
                options=[
                    {"label": "colour by company", "value": "provider"},
                    {"label": "colour by attitude toward own company", "value": "attitude"},
                ],
                value="provider",
                inline=True,
                inputStyle={"marginRight": "3px", "marginLeft": "8px"},
                style={"fontSize": "13px", "margin": "4px 0"},
            ),
            html.Div(id="network-tally", className="cx-help", style={"fontSize": "12.5px"}),
            dcc.Graph(
                id="network-graph",
                figure=empty_figure("", "drawing the network ...", 520),
                config={**GRAPH_CONFIG, "scrollZoom": True},
                style={"height": "520px"},
                clear_on_unhover=True,
            ),
            html.Div(
                "Each dot is a person, each line a pair who talk. Click a person to follow "
                "their journey. Grey: nobody's customer.",
                className="cx-help",
            ),
            dcc.Interval(id="play-timer", interval=200, disabled=True),
        ],
        className="cx-card",
    )


def journey_card() -> html.Div:
    """The journey inspector: one clicked customer's timeline and story."""
    return html.Div(
        [
            html.H3("A customer's journey"),
            dcc.Loading(
                [
                    dcc.Graph(
                        id="journey-graph",
                        figure=empty_figure("", "Click a person in the network.", 380),
                        config=GRAPH_CONFIG,
                        style={"height": "380px"},
                    ),
                    html.Div(id="journey-story"),
                ],
                delay_show=400,
                overlay_style={"visibility": "visible", "opacity": 0.6},
            ),
        ],
        className="cx-card",
    )


def _day_marks(days: int) -> dict[int, str]:
    step = 30 if days <= 400 else 90 if days <= 1200 else 365
    marks = {d: str(d) for d in range(0, days + 1, step)}
    if days <= 400:
        marks = {d: (str(d) if i % 2 == 0 else "") for i, d in enumerate(marks)}
    return {d: label for d, label in marks.items() if label}


def day_marks(days: int) -> dict[int, str]:
    """Marks of the time slider for a run of ``days``."""
    return _day_marks(days)


def main_area(stories: dict[str, Story], days: int) -> html.Div:
    """Message, key figures, charts, network and journey."""
    charts = html.Div(
        [
            html.Div(id="kpis", className="cx-kpis"),
            html.Div(graph("share-graph", "Who keeps the customers"), className="cx-card"),
            html.Div(
                [
                    html.Div(graph("diff-graph", "Difference B - A"), className="cx-card"),
                ],
                id="diff-panel",
                style={"display": "none"},
            ),
            html.Div(
                [
                    html.Div(graph("iceberg-graph", "The complaint iceberg"), className="cx-card"),
                    html.Div(graph("wom-graph", "Word of mouth"), className="cx-card"),
                ],
                className="cx-row",
            ),
            html.Div(
                [
                    html.Div(
                        graph("money-graph", "Refunds, broken promises and profit"),
                        className="cx-card",
                        style={"flex": "2 1 560px"},
                    ),
                    html.Div(graph("nps-graph", "Net promoter score"), className="cx-card"),
                ],
                className="cx-row",
            ),
        ]
    )
    return html.Div(
        [
            html.Div("Simulating the story ...", id="message", className="cx-message cx-ok"),
            try_panel(stories),
            dcc.Loading(
                charts,
                target_components={"share-graph": "figure"},
                delay_show=500,
                overlay_style={"visibility": "visible", "opacity": 0.45, "filter": "blur(1px)"},
                custom_spinner=html.Div(
                    "Simulating ... (larger markets take a few seconds)",
                    className="cx-message cx-ok",
                    style={"position": "sticky", "top": "40%"},
                ),
            ),
            html.Div([network_card(days), journey_card()], className="cx-row"),
        ],
        className="cx-main",
    )


def has_story_files(stories: dict[str, Story]) -> bool:
    """Whether any story's contacts come from its own network file."""
    return any(s.params.network.kind == NetworkKind.file for s in stories.values())


def page(stories: dict[str, Story], current: Story) -> html.Div:
    """The whole page, starting from story ``current``."""
    market = opening_values(current)
    return html.Div(
        [
            html.Div(
                [
                    html.H1("cxsim: manage complaints, or fix them?"),
                    html.Span(
                        "Move a lever and watch complaints, word of mouth and retention respond."
                    ),
                ],
                className="cx-header",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            story_card(stories, current),
                            compare_card(),
                            export_card(),
                            html.Div(company_cards(current), id="company-panels"),
                            market_card(market, has_story_files(stories)),
                        ],
                        className="cx-sidebar",
                    ),
                    main_area(stories, market["market.days"]),
                ],
                className="cx-body",
            ),
            dcc.Store(id="run-store"),
            dcc.Store(id="network-store"),
            dcc.Store(id="picture-key"),
            dcc.Store(id="run-ref"),
            dcc.Store(id="export-name"),
            dcc.Store(id="selected-node"),
            dcc.Store(id="clicked-node"),  # the person last clicked, set in the browser at once
            dcc.Store(id="journey-person"),  # the person whose journey the panel shows
            dcc.Store(id="baseline-store", data=baseline_of(current)),
        ]
    )


def baseline_of(story: Story) -> dict[str, Any]:
    """The baseline A of a story: its own company levers."""
    return {
        "story": story.name,
        "label": "the story's own policies",
        "companies": [controls.lever_values(c) for c in story.params.companies],
    }


# --------------------------------------------------------------------------- key figures

#: (summary column, label, format, scale, higher is better) of the key-figure cards.
KPIS: tuple[tuple[str, str, str, float, bool], ...] = (
    ("retention", "day-0 customers kept", "{:.1%}", 1.0, True),
    ("market_share", "market share at the end", "{:.1%}", 1.0, True),
    ("nps", "NPS at the end", "{:+.0f}", 1.0, True),
    ("problems_per_complaint", "problems per complaint", "{:,.0f}", 1.0, False),
    ("broken_promises", "broken promises", "{:,.0f}", 1.0, False),
    ("refunds", "refunds paid", "{:,.0f}", 1.0, True),
    ("profit", "profit (thousands)", "{:,.0f}", 1e-3, True),
    ("npv", "value, NPV (thousands)", "{:,.0f}", 1e-3, True),
)


def _fmt(fmt: str, value: float) -> str:
    if not math.isfinite(value):
        return "-"  # e.g. problems per complaint when nobody complained
    return fmt.format(value)


def kpi_cards(b: Any, a: Any | None = None) -> list[html.Div]:
    """Key figures per company for run ``b``, with ``a -> b`` and the change when comparing."""
    cards = []
    for i, name in enumerate(b.company_names):
        rows = []
        for column, label, fmt, scale, higher_better in KPIS:
            if column not in b.summary.columns:
                continue  # a figure this engine's summary does not have
            value = float(b.summary.loc[name, column]) * scale
            cells: list[Any] = [html.Td(label)]
            if a is not None:
                before = float(a.summary.loc[a.company_names[i], column]) * scale
                delta = value - before
                better = (delta > 0) == higher_better
                cls = "" if abs(delta) < 1e-12 else ("delta-up" if better else "delta-down")
                cells += [
                    html.Td(_fmt(fmt, before), className="num", style={"color": "#90A4AE"}),
                    html.Td(_fmt(fmt, value), className=f"num {cls}"),
                ]
            else:
                cells.append(html.Td(_fmt(fmt, value), className="num"))
            rows.append(html.Tr(cells))
        head = (
            [html.Tr([html.Td(""), html.Td("A", className="num"), html.Td("B", className="num")])]
            if a is not None
            else []
        )
        color = company_colour(i)
        cards.append(
            html.Div(
                [html.H4(name, style={"color": color}), html.Table([*head, *rows])],
                className="cx-kpi",
                style={"borderTopColor": color},
            )
        )
    return cards
