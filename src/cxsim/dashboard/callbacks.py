"""What happens when a student moves a control.

No callback keeps a model or any other mutable state on the server: every
answer is computed from the values the browser sends (the controls, and small
stores holding the last good run's parameters), and runs are cached by their
full parameter set in :mod:`cxsim.dashboard.simulation`. So every browser
session has its own state, and thirty students do not see each other's
settings.

A value the schema or the page refuses leaves every chart as it was and shows
the reason in the message bar; no input can stop the server.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from typing import Any

from dash import ALL, MATCH, Dash, Input, Output, State, ctx, html, no_update
from pydantic import ValidationError

from cxsim.dashboard import controls, figures, layout
from cxsim.dashboard.controls import COMPANY_LEVERS, ControlError
from cxsim.dashboard.simulation import Run, picture_key, simulate
from cxsim.dashboard.stories import Story
from cxsim.params import ModelParams

log = logging.getLogger(__name__)

MARKET_ALL = {"type": "market", "key": ALL}
LEVER_ALL = {"type": "lever", "company": ALL, "key": ALL}

#: Charts the main run callback draws, in output order.
CHARTS = ("share-graph", "iceberg-graph", "wom-graph", "money-graph", "nps-graph", "diff-graph")

#: Policy levers a preset sets (the others belong to the company, not its policy).
POLICY_LEVERS = tuple(
    c.key for c in COMPANY_LEVERS if c.key.startswith("policy.") and c.key != "policy.preset"
)


def register(app: Dash, stories: dict[str, Story]) -> None:
    """Attach the page's callbacks to ``app``; ``stories`` are the stories it may open."""
    _register_story(app, stories)
    _register_run(app, stories)
    _register_network(app)
    _register_journey(app, stories)


# --------------------------------------------------------------------------- helpers


def market_values(values: list[Any], ids: list[dict[str, Any]]) -> dict[str, Any]:
    """Market control key -> value, from pattern-matched values and ids."""
    return {layout.control_key(i["key"]): v for i, v in zip(ids, values, strict=True)}


def company_values(values: list[Any], ids: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Per company, lever key -> value, from pattern-matched values and ids."""
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for i, v in zip(ids, values, strict=True):
        grouped[int(i["company"])][layout.control_key(i["key"])] = v
    return [grouped.get(k, {}) for k in range(n)]


def _message(text: str, ok: bool = True) -> tuple[str, str]:
    return text, "cx-message cx-ok" if ok else "cx-message cx-error"


def _run_ref(story: Story, params: ModelParams, drawn: int) -> dict[str, Any]:
    return {"story": story.name, "params": params.model_dump(mode="json"), "drawn": drawn}


def run_from_ref(ref: dict[str, Any] | None, stories: dict[str, Story]) -> Run | None:
    """The run a page last showed, from its small reference (recomputed if evicted)."""
    if not ref or ref.get("story") not in stories:
        return None
    params = ModelParams.model_validate(ref["params"])
    controls.check_size(params)
    drawn = int(ref["drawn"])
    if not 1 <= drawn <= controls.MAX_DRAWN:
        raise ControlError(f"bad number of people drawn: {drawn}")
    return simulate(params, drawn, stories[ref["story"]].base_dir)


# --------------------------------------------------------------------------- stories


def _register_story(app: Dash, stories: dict[str, Story]) -> None:
    @app.callback(
        Output("story-select", "value"),
        Input({"type": "open-story", "story": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_story(clicks: list[int | None]) -> Any:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            return no_update
        return trigger["story"] if trigger["story"] in stories else no_update

    @app.callback(
        Output("company-panels", "children"),
        Output("story-text", "children"),
        Output(MARKET_ALL, "value"),
        Output("baseline-store", "data"),
        Output("baseline-label", "children"),
        Input("story-select", "value"),
        State(MARKET_ALL, "value"),
        State(MARKET_ALL, "id"),
        prevent_initial_call=True,
    )
    def load_story(name: str, values: list[Any], ids: list[dict[str, Any]]) -> Any:
        story = stories.get(name)
        if story is None:
            return (no_update,) * 5
        current = market_values(values, ids)
        fresh = controls.market_values(story.params)
        # The story sets the network, the luck and word of mouth; the size stays the student's.
        keep = ("market.customers", "market.days", "drawn")
        merged = [current[k] if k in keep else fresh[k] for k in current]
        return (
            layout.company_cards(story),
            layout.story_text(story),
            merged,
            layout.baseline_of(story),
            "Baseline A: the story's own policies.",
        )

    # Choosing a preset fills the policy levers with its values; "custom" leaves them be.
    @app.callback(
        *[
            Output({"type": "lever", "company": MATCH, "key": layout.dom_key(k)}, "value")
            for k in POLICY_LEVERS
        ],
        Input({"type": "lever", "company": MATCH, "key": "policy__preset"}, "value"),
        prevent_initial_call=True,
    )
    def apply_preset(preset: str) -> Any:
        if preset not in ("manage", "fix"):
            return (no_update,) * len(POLICY_LEVERS)
        values = controls.preset_lever_values(preset)
        out = []
        for key in POLICY_LEVERS:
            value = values[key]
            if controls.CONTROLS_BY_KEY[key].widget == "check":
                value = ["yes"] if value else []
            out.append(value)
        return tuple(out)

    @app.callback(
        Output("baseline-store", "data", allow_duplicate=True),
        Output("baseline-label", "children", allow_duplicate=True),
        Input("baseline-button", "n_clicks"),
        State("story-select", "value"),
        State(LEVER_ALL, "value"),
        State(LEVER_ALL, "id"),
        prevent_initial_call=True,
    )
    def pin_baseline(clicks: int, name: str, values: list[Any], ids: list[dict[str, Any]]) -> Any:
        story = stories.get(name)
        if not clicks or story is None:
            return no_update, no_update
        levers = company_values(values, ids, len(story.params.companies))
        return (
            {"story": name, "label": "your pinned policies", "companies": levers},
            "Baseline A: the policies you pinned. Change levers now to see B - A.",
        )


# --------------------------------------------------------------------------- the run


def _register_run(app: Dash, stories: dict[str, Story]) -> None:
    outputs = [Output(c, "figure") for c in CHARTS]
    outputs += [
        Output("diff-panel", "style"),
        Output("kpis", "children"),
        Output("run-store", "data"),
        Output("network-store", "data"),
        Output("picture-key", "data"),
        Output("run-ref", "data"),
        Output("day-slider", "max"),
        Output("day-slider", "marks"),
        Output("day-slider", "value"),
        Output("message", "children"),
        Output("message", "className"),
    ]

    @app.callback(
        *outputs,
        Input(MARKET_ALL, "value"),
        Input(LEVER_ALL, "value"),
        Input("compare-toggle", "value"),
        Input("baseline-store", "data"),
        State(MARKET_ALL, "id"),
        State(LEVER_ALL, "id"),
        State("story-select", "value"),
        State("picture-key", "data"),
        State("day-slider", "value"),
    )
    def run_page(
        market: list[Any],
        levers: list[Any],
        compare: list[str] | None,
        baseline: dict[str, Any] | None,
        market_ids: list[dict[str, Any]],
        lever_ids: list[dict[str, Any]],
        story_name: str,
        shown_picture: str | None,
        day: int | None,
    ) -> tuple[Any, ...]:
        keep = (no_update,) * (len(outputs) - 2)
        story = stories.get(story_name)
        if story is None:
            return (*keep, *_message(f"unknown story {story_name!r}", ok=False))
        n = len(story.params.companies)
        if any(int(i["company"]) >= n for i in lever_ids):
            return (*keep, *_message("loading the story ..."))  # levers of the previous story
        try:
            market_map = market_values(market, market_ids)
            params_b, drawn = controls.build_params(
                story.params, market_map, company_values(levers, lever_ids, n)
            )
            params_a = None
            comparing = "on" in (compare or [])
            if comparing and baseline and baseline.get("story") == story.name:
                params_a, _ = controls.build_params(story.params, market_map, baseline["companies"])
            run_b = simulate(params_b, drawn, story.base_dir)
            run_a = simulate(params_a, drawn, story.base_dir) if params_a is not None else None
            return _page_outputs(story, run_b, run_a, drawn, shown_picture, day)
        except ControlError as err:
            text = f"Not run: {err}. The charts show the last good result."
            return (*keep, *_message(text, ok=False))
        except Exception as err:  # a bug must not take the page down with it
            log.exception("dashboard run failed")
            text = (
                f"Not run: internal error ({type(err).__name__}: {err}). "
                "The charts show the last good result."
            )
            return (*keep, *_message(text, ok=False))


def _page_outputs(
    story: Story,
    run_b: Run,
    run_a: Run | None,
    drawn: int,
    shown_picture: str | None,
    day: int | None,
) -> tuple[Any, ...]:
    """Everything the run callback shows, for run ``run_b`` (and baseline ``run_a``)."""
    params_b = run_b.params
    days = params_b.market.days
    pic_key = picture_key(params_b, drawn, story.base_dir)
    diff = (
        figures.difference_figure(run_a, run_b)
        if run_a is not None
        else figures.empty_figure("Difference B - A", "Tick 'compare with baseline A'.")
    )
    m = params_b.market
    seconds = run_b.seconds + (run_a.seconds if run_a is not None else 0.0)
    # The fingerprint names the settings: the same fingerprint always gives the same result.
    fingerprint = hashlib.sha1(
        (run_b.key + (run_a.key if run_a is not None else "")).encode("utf-8")
    ).hexdigest()[:6]
    text = (
        f"{story.label}: {m.customers:,} people for {days:,} days, seed {m.seed}"
        + (", side by side with baseline A" if run_a is not None else "")
        + f"; simulated in {seconds:.1f} s (settings #{fingerprint})."
    )
    return (
        figures.share_figure(run_b),
        figures.iceberg_figure(run_b),
        figures.wom_figure(run_b),
        figures.money_figure(run_b),
        figures.nps_figure(run_b),
        diff,
        {"display": "block"} if run_a is not None else {"display": "none"},
        layout.kpi_cards(run_b, run_a),
        figures.snapshot_payload(run_b),
        figures.network_payload(run_b) if pic_key != shown_picture else no_update,
        pic_key,
        _run_ref(story, params_b, drawn),
        days,
        layout.day_marks(days),
        days if day is None or day > days else no_update,
        *_message(text),
    )


# --------------------------------------------------------------------------- the network

#: Draws the network at the slider's day from the snapshots held in the browser.
DRAW_NETWORK_JS = """
function(day, run, net, colorBy, selected) {
    const dc = window.dash_clientside;
    if (!run || !net) { return [dc.no_update, dc.no_update, dc.no_update]; }
    const cache = window.__cxsim || (window.__cxsim = {});
    const decode = (s) => {
        const bin = atob(s);
        const out = new Int8Array(bin.length);
        for (let i = 0; i < bin.length; i++) { out[i] = (bin.charCodeAt(i) << 24) >> 24; }
        return out;
    };
    if (cache.key !== run.key) {
        cache.key = run.key;
        cache.prov = decode(run.provider);
        cache.att = decode(run.attitude);
    }
    const n = run.n;
    if (net.ids.length !== n) { return [dc.no_update, dc.no_update, dc.no_update]; }
    day = Math.max(0, Math.min(day == null ? run.days : day, run.days));
    const frame = Math.min(Math.floor(day / run.stride), run.frames - 1);
    const base = frame * n;
    const colors = new Array(n), text = new Array(n);
    const counts = new Array(run.names.length + 1).fill(0);
    const diverging = (a) => {
        const lo = [215, 48, 39], mid = [255, 255, 191], hi = [26, 152, 80];
        const t = Math.max(-1, Math.min(1, a));
        const c = mid.map((m, i) => Math.round(t >= 0 ? m + (hi[i] - m) * t : m + (m - lo[i]) * t));
        return `rgb(${c[0]},${c[1]},${c[2]})`;
    };
    for (let i = 0; i < n; i++) {
        const p = cache.prov[base + i];
        const a = cache.att[base + i] / 100;
        if (p < 0) {
            colors[i] = run.prospect_color;
            text[i] = `person ${net.ids[i]}: nobody's customer`;
            counts[run.names.length] += 1;
        } else {
            colors[i] = colorBy === 'attitude' ? diverging(a) : run.colors[p];
            text[i] = `person ${net.ids[i]}: ${run.names[p]}'s customer, attitude ${a >= 0 ? '+' : ''}${a.toFixed(2)}`;
            counts[p] += 1;
        }
    }
    const size = n <= 400 ? 9 : n <= 1200 ? 7 : 5;
    // WebGL redraws a frame in tens of milliseconds where SVG takes most of a second.
    if (cache.webgl === undefined) {
        try { cache.webgl = !!document.createElement('canvas').getContext('webgl'); }
        catch (e) { cache.webgl = false; }
    }
    const kind = cache.webgl ? 'scattergl' : 'scatter';
    const data = [
        {type: kind, mode: 'lines', x: net.ex, y: net.ey, hoverinfo: 'skip',
         line: {color: 'rgba(110,125,140,0.28)', width: 0.6}, showlegend: false},
        {type: kind, mode: 'markers', x: net.x, y: net.y, customdata: net.ids, text: text,
         hovertemplate: '%{text}<extra></extra>', showlegend: false, name: 'people',
         marker: {color: colors, size: size, line: {color: 'white', width: 0.4}}},
    ];
    const legend = (name, color) => ({type: 'scatter', mode: 'markers', x: [null], y: [null],
        name: name, marker: {color: color, size: 10}, hoverinfo: 'skip'});
    if (colorBy === 'attitude') {
        data.push(legend('unhappy (-1)', diverging(-1)), legend('neutral (0)', diverging(0)),
                  legend('happy (+1)', diverging(1)));
    } else {
        run.names.forEach((name, k) => data.push(legend(name, run.colors[k])));
    }
    data.push(legend("nobody's customer", run.prospect_color));
    if (selected !== null && selected !== undefined) {
        const j = net.ids.indexOf(selected);
        if (j >= 0) {
            data.push({type: kind, mode: 'markers', x: [net.x[j]], y: [net.y[j]],
                hoverinfo: 'skip', showlegend: false,
                marker: {size: size + 10, color: 'rgba(0,0,0,0)', line: {color: '#111', width: 2.5}}});
        }
    }
    const tally = run.names.map((name, k) => `${name} ${counts[k]}`).join(' \\u00b7 ');
    const layout = {
        height: 520, margin: {l: 8, r: 8, t: 8, b: 8},
        xaxis: {visible: false}, yaxis: {visible: false, scaleanchor: 'x'},
        hovermode: 'closest', dragmode: 'pan', uirevision: `${net.kind}:${n}:${net.edges}:${net.x[0]}`,
        legend: {orientation: 'h', x: 0, y: 0, bgcolor: 'rgba(255,255,255,0.7)', font: {size: 11}},
        paper_bgcolor: 'white', plot_bgcolor: 'white',
        font: {family: "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"},
    };
    if (net.edges === 0 && net.kind === 'fully_mixed') {
        layout.annotations = [{text: 'fully mixed: everyone can reach everyone, so no lines are drawn',
            showarrow: false, xref: 'paper', yref: 'paper', x: 0.5, y: 1.0, font: {size: 11}}];
    }
    return [{data: data, layout: layout}, `day ${day}`,
            `day ${day}: ${tally} \\u00b7 nobody's customer ${counts[run.names.length]}`];
}
"""

#: Play and pause: the timer moves the slider; at the end it stops; play at the end starts over.
PLAY_JS = """
function(clicks, ticks, day, last, disabled) {
    const dc = window.dash_clientside;
    // A click and a tick that land in the same frame arrive as one call: the click wins,
    // or a busy browser would swallow the student's pause.
    const clicked = (dc.callback_context.triggered || []).some(
        t => (t.prop_id || '').startsWith('play-button'));
    const step = Math.max(1, Math.round(last / 60));  // a story plays in about 60 frames
    if (clicked) {
        if (disabled) {
            const start = day >= last ? 0 : day;
            return [false, start, 'Pause'];
        }
        return [true, dc.no_update, 'Play'];
    }
    // A tick never starts the timer: one that was queued before a pause may still arrive.
    if (disabled) { return [dc.no_update, dc.no_update, dc.no_update]; }
    const next = Math.min(last, (day || 0) + step);
    if (next >= last) { return [true, last, 'Play']; }
    return [dc.no_update, next, dc.no_update];
}
"""


def _register_network(app: Dash) -> None:
    app.clientside_callback(
        DRAW_NETWORK_JS,
        Output("network-graph", "figure"),
        Output("day-label", "children"),
        Output("network-tally", "children"),
        Input("day-slider", "value"),
        Input("run-store", "data"),
        Input("network-store", "data"),
        Input("color-by", "value"),
        Input("selected-node", "data"),
    )
    app.clientside_callback(
        PLAY_JS,
        Output("play-timer", "disabled"),
        Output("day-slider", "value", allow_duplicate=True),
        Output("play-button", "children"),
        Input("play-button", "n_clicks"),
        Input("play-timer", "n_intervals"),
        State("day-slider", "value"),
        State("day-slider", "max"),
        State("play-timer", "disabled"),
        prevent_initial_call=True,
    )


# --------------------------------------------------------------------------- journeys


def _register_journey(app: Dash, stories: dict[str, Story]) -> None:
    @app.callback(
        Output("journey-graph", "figure"),
        Output("journey-story", "children"),
        Output("selected-node", "data"),
        Input("network-graph", "clickData"),
        Input("run-ref", "data"),
        State("selected-node", "data"),
        prevent_initial_call=True,
    )
    def show_journey(
        click: dict[str, Any] | None, ref: dict[str, Any] | None, selected: Any
    ) -> Any:
        customer = selected
        # A click and a finished run can arrive in one call; the click must not be lost.
        if "network-graph.clickData" in ctx.triggered_prop_ids:
            customer = _clicked_customer(click)
            if customer is None:
                return no_update, no_update, no_update
        if customer is None:
            return no_update, no_update, no_update
        try:
            run = run_from_ref(ref, stories)
        except (ControlError, ValidationError, KeyError, TypeError, ValueError) as err:
            return (
                no_update,
                html.Div(f"Cannot show the journey: {err}", className="cx-bad"),
                no_update,
            )
        if run is None:
            return no_update, no_update, no_update
        if customer not in set(run.picture.nodes.tolist()):
            return (
                figures.empty_figure("", "That person is not drawn in this picture.", 380),
                [],
                None,
            )
        return (
            figures.journey_figure(run, customer),
            journey_text(run, customer),
            customer,
        )


def _clicked_customer(click: dict[str, Any] | None) -> int | None:
    if not click or not click.get("points"):
        return None
    point = click["points"][0]
    value = point.get("customdata")
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def journey_text(run: Run, customer: int) -> list[Any]:
    """The customer's counts and notable events, in words."""
    counts = figures.journey_counts(run, customer)
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    story = figures.journey_story(run, customer)
    tone_class = {1: "cx-good", -1: "cx-bad", 0: "cx-neutral"}
    items = [
        html.Li([html.B(f"day {day}: "), words], className=tone_class[tone])
        for day, words, tone in story
    ]
    if not items:
        items = [html.Li("Nothing notable: quiet purchases only.", className="cx-neutral")]
    return [
        html.Div(f"Person {customer}: {summary}.", className="cx-help", style={"margin": "4px 0"}),
        html.Ul(items, className="cx-story", id="journey-events"),
    ]
