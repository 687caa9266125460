"""What happens when a student moves a control.

No callback keeps a model or any other mutable state on the server: every
answer is computed from the values the browser sends (the controls, and small
stores holding the last good run's parameters), and runs are cached by their
full parameter set in :mod:`cxsim.dashboard.simulation`. So every browser
session has its own state, and thirty students do not see each other's
settings.

A value the schema or the page refuses leaves every chart as it was and shows
the reason in the message bar; no input can stop the server. Values arrive
from the browser as JSON anyone can forge: every callback checks their shape
(a forged one is refused with a message, or ignored), the page's settings go
through the allowlist of :func:`cxsim.dashboard.controls.build_params`, and no
run reads a network file other than a story's own (:class:`~cxsim.dashboard.guard.StoryFiles`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from dash import ALL, MATCH, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from cxsim.dashboard import controls, exports, figures, layout
from cxsim.dashboard.controls import COMPANY_LEVERS, ControlError
from cxsim.dashboard.guard import FAILED_MESSAGE, StoryFiles
from cxsim.dashboard.simulation import Run, picture_key, simulate
from cxsim.dashboard.stories import Story
from cxsim.errors import InputError
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


#: What the page says when a request's values are not what the page itself sends.
WRONG_SHAPE = "the page sent settings of the wrong shape"


def register(app: Dash, stories: dict[str, Story]) -> None:
    """Attach the page's callbacks to ``app``; ``stories`` are the stories it may open."""
    files = StoryFiles.of(stories.values())
    _register_story(app, stories)
    _register_levers(app, stories)
    _register_run(app, stories, files)
    _register_network(app)
    _register_journey(app, stories, files)
    _register_exports(app, stories, files)


# --------------------------------------------------------------------------- helpers


def story_named(stories: dict[str, Story], name: Any) -> Story | None:
    """The story called ``name``, or ``None`` (for any value a request may carry)."""
    return stories.get(name) if isinstance(name, str) else None


def _pairs(values: Any, ids: Any) -> list[tuple[dict[str, Any], Any]]:
    """(id, value) pairs of pattern-matched components; a ControlError if the shapes are odd."""
    if not isinstance(values, list) or not isinstance(ids, list) or len(values) != len(ids):
        raise ControlError(WRONG_SHAPE)
    if not all(isinstance(i, dict) and isinstance(i.get("key"), str) for i in ids):
        raise ControlError(WRONG_SHAPE)
    return list(zip(ids, values, strict=True))


def market_values(values: Any, ids: Any) -> dict[str, Any]:
    """Market control key -> value, from pattern-matched values and ids.

    Raises:
        ControlError: the values and ids are not what the page sends.

    """
    return {layout.control_key(i["key"]): v for i, v in _pairs(values, ids)}


def lever_companies(ids: Any) -> list[int]:
    """The company position of each lever id; a ControlError if one is not a position."""
    positions = [i.get("company") if isinstance(i, dict) else None for i in ids or []]
    if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in positions):
        raise ControlError(WRONG_SHAPE)
    return positions  # type: ignore[return-value]


def company_values(values: Any, ids: Any, n: int) -> list[dict[str, Any]]:
    """Per company, lever key -> value, from pattern-matched values and ids.

    Raises:
        ControlError: the values and ids are not what the page sends.

    """
    pairs = _pairs(values, ids)
    grouped: dict[int, dict[str, Any]] = defaultdict(dict)
    for company, (i, v) in zip(lever_companies(ids), pairs, strict=True):
        grouped[company][layout.control_key(i["key"])] = v
    return [grouped.get(k, {}) for k in range(n)]


def _message(text: str, ok: bool = True) -> tuple[str, str]:
    return text, "cx-message cx-ok" if ok else "cx-message cx-error"


def _run_ref(story: Story, market: dict[str, Any], companies: list[dict[str, Any]]) -> dict:
    """What the page keeps of the run it shows: the story and the controls' values."""
    return {"story": story.name, "market": market, "companies": companies}


def settings_from_ref(
    ref: Any, stories: dict[str, Story], files: StoryFiles
) -> tuple[Story, ModelParams, int] | None:
    """The story, parameters and number drawn of the run a page last showed, from its reference.

    The reference comes back from the browser, so it is checked like the controls
    themselves: it holds the controls' values, not parameters, and goes through
    the same allowlist.

    Raises:
        ControlError: the reference is not one the page made, or names settings it refuses.

    """
    if not ref:
        return None
    if not isinstance(ref, dict):
        raise ControlError(WRONG_SHAPE)
    story = story_named(stories, ref.get("story"))
    if story is None:
        raise ControlError(f"unknown story {str(ref.get('story'))[:40]!r}")
    params, drawn = controls.build_params(story.params, ref.get("market"), ref.get("companies"))
    files.check(params, story.base_dir)
    return story, params, drawn


def run_from_ref(ref: Any, stories: dict[str, Story], files: StoryFiles) -> Run | None:
    """The run a page last showed, from its reference (recomputed if evicted; see above).

    Raises:
        ControlError: the reference is not one the page made, or names settings it refuses.

    """
    settings = settings_from_ref(ref, stories, files)
    if settings is None:
        return None
    story, params, drawn = settings
    return simulate(params, drawn, story.base_dir)


# --------------------------------------------------------------------------- stories


def _register_story(app: Dash, stories: dict[str, Story]) -> None:
    @app.callback(
        Output("story-select", "value"),
        Input({"type": "open-story", "story": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_story(clicks: Any) -> Any:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not isinstance(clicks, list) or not any(clicks):
            raise PreventUpdate
        story = story_named(stories, trigger.get("story"))
        return story.name if story is not None else no_update

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
    def load_story(name: Any, values: Any, ids: Any) -> Any:
        story = story_named(stories, name)
        if story is None:
            raise PreventUpdate
        try:
            current = market_values(values, ids)
        except ControlError:
            raise PreventUpdate from None
        fresh = layout.opening_values(story)
        # The story sets the network, the luck, word of mouth, and the size and horizon where
        # its lesson shows (its claim's); how many people the picture draws stays the student's.
        keep = ["drawn"]
        merged = [current[k] if k in keep or k not in fresh else fresh[k] for k in current]
        return (
            layout.company_cards(story),
            layout.story_text(story),
            merged,
            layout.baseline_of(story),
            "Baseline A: the story's own policies.",
        )


def _register_levers(app: Dash, stories: dict[str, Story]) -> None:
    """Presets fill a company's policy levers; the baseline button pins the levers' values."""

    # Choosing a preset fills the policy levers with its values; "custom" leaves them be.
    @app.callback(
        *[
            Output({"type": "lever", "company": MATCH, "key": layout.dom_key(k)}, "value")
            for k in POLICY_LEVERS
        ],
        Input({"type": "lever", "company": MATCH, "key": "policy__preset"}, "value"),
        prevent_initial_call=True,
    )
    def apply_preset(preset: Any) -> Any:
        if not isinstance(preset, str) or preset not in ("manage", "fix"):
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
    def pin_baseline(clicks: Any, name: Any, values: Any, ids: Any) -> Any:
        story = story_named(stories, name)
        if not clicks or story is None:
            raise PreventUpdate
        try:
            levers = company_values(values, ids, len(story.params.companies))
        except ControlError:
            raise PreventUpdate from None
        return (
            {"story": name, "label": "your pinned policies", "companies": levers},
            "Baseline A: the policies you pinned. Change levers now to see B - A.",
        )


# --------------------------------------------------------------------------- the run


def _register_run(app: Dash, stories: dict[str, Story], files: StoryFiles) -> None:
    outputs = [Output(c, "figure") for c in CHARTS]
    outputs += [
        Output("diff-panel", "style"),
        Output("kpis", "children"),
        Output("run-store", "data"),
        Output("network-store", "data"),
        Output("picture-key", "data"),
        Output("run-ref", "data"),
        Output("export-name", "data"),
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
        market: Any,
        levers: Any,
        compare: Any,
        baseline: Any,
        market_ids: Any,
        lever_ids: Any,
        story_name: Any,
        shown_picture: Any,
        day: Any,
    ) -> tuple[Any, ...]:
        keep = (no_update,) * (len(outputs) - 2)
        story = story_named(stories, story_name)
        if story is None:
            return (*keep, *_message(f"unknown story {str(story_name)[:40]!r}", ok=False))
        try:
            n = len(story.params.companies)
            if any(k >= n for k in lever_companies(lever_ids)):
                return (*keep, *_message("loading the story ..."))  # the previous story's levers
            market_map = market_values(market, market_ids)
            companies = company_values(levers, lever_ids, n)
            params_b, drawn = controls.build_params(story.params, market_map, companies)
            params_a = None
            comparing = isinstance(compare, list) and "on" in compare
            if comparing and isinstance(baseline, dict) and baseline.get("story") == story.name:
                params_a, _ = controls.build_params(
                    story.params, market_map, baseline.get("companies")
                )
            for params in (params_b, params_a):
                if params is not None:
                    files.check(params, story.base_dir)
            run_b = simulate(params_b, drawn, story.base_dir)
            run_a = simulate(params_a, drawn, story.base_dir) if params_a is not None else None
            ref = _run_ref(story, market_map, companies)
            return _page_outputs(story, run_b, run_a, drawn, shown_picture, day, ref)
        except ControlError as err:
            text = f"Not run: {err}. The charts show the last good result."
            return (*keep, *_message(text, ok=False))
        except InputError:  # the story's own network file does not fit these settings
            log.warning("dashboard run refused", exc_info=True)
            text = (
                "Not run: these settings do not fit the story's network file. The charts show "
                "the last good result."
            )
            return (*keep, *_message(text, ok=False))
        except Exception:  # a bug must not take the page down with it, nor show its insides
            log.exception("dashboard run failed")
            return (*keep, *_message(f"Not run. {FAILED_MESSAGE}", ok=False))


def _page_outputs(
    story: Story,
    run_b: Run,
    run_a: Run | None,
    drawn: int,
    shown_picture: Any,
    day: Any,
    ref: dict[str, Any],
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
    fingerprint = exports.fingerprint(run_b.key + (run_a.key if run_a is not None else ""))
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
        ref,
        exports.file_stem(story, run_b.key),
        days,
        layout.day_marks(days),
        days if not _is_whole(day) or day > days else no_update,
        *_message(text),
    )


# --------------------------------------------------------------------------- the network

#: Draws the network at the slider's day from the snapshots held in the browser.
DRAW_NETWORK_JS = """
function(day, run, net, colorBy, selected) {
    const dc = window.dash_clientside;
    if (!run || !net) { return [dc.no_update, dc.no_update, dc.no_update]; }
    const cache = window.__cxsim || (window.__cxsim = {});
    const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
    // Each person's first value, then the changes frame by frame (mod 256): add them up
    // into day-major int8 frames (figures.frame_changes is the other half).
    const frames = (s) => {
        const changes = bytes(s), out = new Int8Array(run.frames * run.n);
        for (let i = 0; i < run.n; i++) {
            let v = 0;
            for (let f = 0; f < run.frames; f++) {
                v = (v + changes[i * run.frames + f]) & 255;
                out[f * run.n + i] = (v << 24) >> 24;
            }
        }
        return out;
    };
    if (cache.key !== run.key) {
        cache.key = run.key;
        cache.prov = frames(run.provider);
        cache.att = frames(run.attitude);
    }
    // The picture: int16 positions, uint16 pairs of people in contact (figures.network_payload).
    if (cache.netKey !== net.key) {
        const ints = (s, Kind) => { const b = bytes(s); return new Kind(b.buffer); };
        const x = Array.from(ints(net.x, Int16Array), (v) => v / net.scale);
        const y = Array.from(ints(net.y, Int16Array), (v) => v / net.scale);
        const pairs = ints(net.pairs, Uint16Array);
        const ex = new Array(3 * net.edges).fill(null), ey = new Array(3 * net.edges).fill(null);
        for (let e = 0; e < net.edges; e++) {
            const a = pairs[2 * e], b = pairs[2 * e + 1];
            ex[3 * e] = x[a]; ex[3 * e + 1] = x[b];
            ey[3 * e] = y[a]; ey[3 * e + 1] = y[b];
        }
        cache.netKey = net.key;
        cache.net = {x: x, y: y, ex: ex, ey: ey};
    }
    const pic = cache.net;
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
        {type: kind, mode: 'lines', x: pic.ex, y: pic.ey, hoverinfo: 'skip',
         line: {color: 'rgba(110,125,140,0.28)', width: 0.6}, showlegend: false},
        {type: kind, mode: 'markers', x: pic.x, y: pic.y, customdata: net.ids, text: text,
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
            data.push({type: kind, mode: 'markers', x: [pic.x[j]], y: [pic.y[j]],
                hoverinfo: 'skip', showlegend: false,
                marker: {size: size + 10, color: 'rgba(0,0,0,0)', line: {color: '#111', width: 2.5}}});
        }
    }
    const tally = run.names.map((name, k) => `${name} ${counts[k]}`).join(' \\u00b7 ');
    const layout = {
        height: 520, margin: {l: 8, r: 8, t: 8, b: 8},
        xaxis: {visible: false}, yaxis: {visible: false, scaleanchor: 'x'},
        hovermode: 'closest', dragmode: 'pan', uirevision: `${net.kind}:${n}:${net.edges}:${pic.x[0]}`,
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


#: The person a click on the picture names, kept in the browser the moment it is clicked.
CLICKED_JS = """
function(click) {
    const point = click && Array.isArray(click.points) ? click.points[0] : null;
    let value = point ? point.customdata : null;
    if (Array.isArray(value)) { value = value.length ? value[0] : null; }
    return Number.isInteger(value) ? value : window.dash_clientside.no_update;
}
"""

#: A journey answer can arrive after a newer one (Dash applies a late answer of the same
#: callback): a finished run asks for the person selected before while a click on another is
#: on its way. When the panel ends up showing someone other than the person last clicked,
#: ask for that person's journey again.
HEAL_JOURNEY_JS = """
function(shown, clicked) {
    if (Number.isInteger(clicked) && shown !== clicked) {
        return {points: [{customdata: clicked}]};
    }
    return window.dash_clientside.no_update;
}
"""


def _register_journey(app: Dash, stories: dict[str, Story], files: StoryFiles) -> None:
    app.clientside_callback(
        CLICKED_JS,
        Output("clicked-node", "data"),
        Input("network-graph", "clickData"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        HEAL_JOURNEY_JS,
        Output("network-graph", "clickData"),
        Input("journey-person", "data"),
        State("clicked-node", "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("journey-graph", "figure"),
        Output("journey-story", "children"),
        Output("selected-node", "data"),
        Output("journey-person", "data"),
        Input("network-graph", "clickData"),
        Input("run-ref", "data"),
        State("selected-node", "data"),
        prevent_initial_call=True,
    )
    def show_journey(click: Any, ref: Any, selected: Any) -> Any:
        customer = selected if _is_whole(selected) else None
        # A click and a finished run can arrive in one call; the click must not be lost.
        if "network-graph.clickData" in ctx.triggered_prop_ids:
            customer = _clicked_customer(click)
        if customer is None:
            raise PreventUpdate
        try:
            run = run_from_ref(ref, stories, files)
        except ControlError as err:
            return (
                no_update,
                html.Div(f"Cannot show the journey: {err}.", className="cx-bad"),
                no_update,
                no_update,
            )
        if run is None:
            return no_update, no_update, no_update, no_update
        if customer not in set(run.picture.nodes.tolist()):
            return (
                figures.empty_figure("", "That person is not drawn in this picture.", 380),
                [],
                None,
                customer,
            )
        return (
            figures.journey_figure(run, customer),
            journey_text(run, customer),
            customer,
            customer,
        )


def _is_whole(value: Any) -> bool:
    """Whether ``value`` is a whole number as JSON sends one (not a bool, not NaN)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _clicked_customer(click: Any) -> int | None:
    """The customer a click on the network picture names, or ``None``."""
    if not isinstance(click, dict) or not isinstance(click.get("points"), list):
        return None
    point = click["points"][0] if click["points"] else None
    value = point.get("customdata") if isinstance(point, dict) else None
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if _is_whole(value) else None


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


# --------------------------------------------------------------------------- downloads


def _register_exports(app: Dash, stories: dict[str, Story], files: StoryFiles) -> None:
    """The settings as a scenario file and the results as CSV (server); the page as PNG (browser)."""

    @app.callback(
        Output("download", "data"),
        Output("export-status", "children"),
        Input("export-toml", "n_clicks"),
        Input("export-csv", "n_clicks"),
        State("run-ref", "data"),
        prevent_initial_call=True,
    )
    def export(toml_clicks: Any, csv_clicks: Any, ref: Any) -> Any:
        trigger = ctx.triggered_id
        if trigger not in ("export-toml", "export-csv"):
            raise PreventUpdate
        try:
            settings = settings_from_ref(ref, stories, files)
        except ControlError as err:
            return no_update, f"Cannot download: {err}."
        if settings is None:
            return no_update, "Nothing to download yet: wait for the first run."
        story, params, drawn = settings
        try:
            run = simulate(params, drawn, story.base_dir)  # cached: the run the page shows
            stem = exports.file_stem(story, run.key)
            if trigger == "export-toml":
                name = f"{stem}.toml"
                data = exports.download(
                    exports.scenario_file(story, params, stem), name, "application/toml"
                )
                said = f"Saved {name}: run it with cxsim run {name}"
            else:
                name = f"{stem}-timeseries.csv"
                data = exports.download(exports.timeseries_file(run), name, "text/csv")
                said = f"Saved {name}: one row per day and company, as cxsim run writes it."
        except InputError:
            log.warning("dashboard export refused", exc_info=True)
            return no_update, "Cannot download: these settings do not fit the story's files."
        return data, said

    app.clientside_callback(
        exports.PAGE_PNG_JS,
        Output("export-status", "children", allow_duplicate=True),
        Input("export-png", "n_clicks"),
        State("export-name", "data"),
        prevent_initial_call=True,
    )
