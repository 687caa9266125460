"""The dashboard without a browser: controls, runs, figures and callbacks answered over HTTP.

``run_request`` builds the body the page's own front end POSTs to
``/_dash-update-component`` when a control moves; the load test uses it too.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")

from cxsim.dashboard import cli as dashboard_cli
from cxsim.dashboard import controls, figures, layout, simulation
from cxsim.dashboard.app import create_app
from cxsim.dashboard.controls import ControlError
from cxsim.dashboard.stories import DEFAULTS, TIPS, catalogue, load_story
from cxsim.params import ModelParams
from cxsim.scenario import SCENARIO_DIR, shipped_scenarios

SMALL = {"market.customers": 400, "market.days": 60, "drawn": 200}


# --------------------------------------------------------------------------- request bodies


def _output_spec(app: Any, marker: str) -> tuple[str, list[dict[str, Any]]]:
    key = next(k for k in app.callback_map if marker in k)
    outputs = []
    for part in key.strip(".").split("..."):
        ident, prop = part.rsplit(".", 1)
        outputs.append(
            {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop}
        )
    return key, outputs


def page_values(
    story_name: str = "manage_vs_fix",
    market: dict[str, Any] | None = None,
    levers: dict[tuple[int, str], Any] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The controls' values as the page shows them for a story, with changes."""
    story = catalogue()[story_name]
    market_values = controls.market_values(story.params)
    market_values.update(market or {})
    companies = [controls.lever_values(c) for c in story.params.companies]
    for (i, key), value in (levers or {}).items():
        companies[i][key] = value
    checks = [c.key for c in controls.COMPANY_LEVERS if c.widget == "check"]
    for values in companies:
        for key in checks:
            if isinstance(values[key], bool):
                values[key] = ["yes"] if values[key] else []
    return market_values, companies


def run_request(
    app: Any,
    story_name: str = "manage_vs_fix",
    market: dict[str, Any] | None = None,
    levers: dict[tuple[int, str], Any] | None = None,
    compare: bool = False,
    baseline: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body the browser POSTs when a control of the page moves."""
    key, outputs = _output_spec(app, "share-graph.figure")
    market_values, companies = page_values(story_name, market, levers)
    market_items = [(layout.market_id(k), v) for k, v in market_values.items()]
    lever_items = [
        (layout.lever_id(i, k), v) for i, values in enumerate(companies) for k, v in values.items()
    ]
    if baseline is None:
        baseline = {"story": story_name, "label": "", "companies": page_values(story_name)[1]}
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [
            [{"id": i, "property": "value", "value": v} for i, v in market_items],
            [{"id": i, "property": "value", "value": v} for i, v in lever_items],
            {"id": "compare-toggle", "property": "value", "value": ["on"] if compare else []},
            {"id": "baseline-store", "property": "data", "value": baseline},
        ],
        "state": [
            [{"id": i, "property": "id", "value": i} for i, _ in market_items],
            [{"id": i, "property": "id", "value": i} for i, _ in lever_items],
            {"id": "story-select", "property": "value", "value": story_name},
            {"id": "picture-key", "property": "data", "value": None},
            {"id": "day-slider", "property": "value", "value": None},
        ],
        "changedPropIds": [],
    }


def journey_request(
    app: Any,
    run_ref: dict[str, Any],
    customer: int,
    selected: int | None = None,
    changed: tuple[str, ...] = ("network-graph.clickData",),
) -> dict[str, Any]:
    """The body the browser POSTs when a person in the network is clicked."""
    key, outputs = _output_spec(app, "journey-graph.figure")
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [
            {
                "id": "network-graph",
                "property": "clickData",
                "value": {"points": [{"customdata": customer}]},
            },
            {"id": "run-ref", "property": "data", "value": run_ref},
        ],
        "state": [{"id": "selected-node", "property": "data", "value": selected}],
        "changedPropIds": list(changed),
    }


def post(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/_dash-update-component", json=body)
    assert answer.status_code in (200, 204), answer.data[:500]
    return answer.get_json()["response"] if answer.status_code == 200 else {}


def message(response: dict[str, Any]) -> tuple[str, str]:
    return response["message"]["children"], response["message"]["className"]


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.server.test_client()


# --------------------------------------------------------------------------- controls


def test_every_control_explains_itself_and_names_its_schema_field() -> None:
    for control in (*controls.MARKET_CONTROLS, *controls.COMPANY_LEVERS):
        assert len(control.help) > 20, control.key
        if control.schema_key is not None:
            info = controls.schema_field(control.schema_key)
            assert info.description
            assert control.schema_key in control.tooltip


def test_tooltips_carry_the_schema_bounds() -> None:
    tip = controls.CONTROLS_BY_KEY["policy.callback_kept"].tooltip
    assert "(0 to 1)" in tip


def test_controls_at_their_story_values_give_back_the_story() -> None:
    for name, story in catalogue().items():
        market, companies = page_values(name)
        params, drawn = controls.build_params(story.params, market, companies)
        want = story.params.model_dump(mode="json")
        got = params.model_dump(mode="json")
        want["market"].update(customers=controls.DEFAULT_CUSTOMERS, days=controls.DEFAULT_DAYS)
        for company in want["companies"]:
            company["quoted_price"] = company["quoted_price"] or company["price"]
        assert got == want, name
        assert drawn == controls.DEFAULT_DRAWN


def test_choosing_a_preset_replaces_the_story_policy() -> None:
    story = load_story("quiet_by_wearing_out")  # heavy CRM: manage preset with 12 touches
    market, companies = page_values("quiet_by_wearing_out")
    fix = controls.preset_lever_values("fix")
    companies[1].update(fix)
    companies[1]["policy.preset"] = "fix"
    params, _ = controls.build_params(story.params, market, companies)
    policy = params.companies[1].policy
    assert policy.preset == "fix"
    assert policy.handling == "immediate"
    assert policy.crm_touches_per_month == fix["policy.crm_touches_per_month"]
    assert params.companies[0].policy.crm_touches_per_month == 1.0


def test_custom_keeps_the_story_policy_beside_the_levers() -> None:
    story = load_story("dealership")
    market, companies = page_values("dealership", levers={(1, "policy.callback_kept"): 0.95})
    params, _ = controls.build_params(story.params, market, companies)
    dealer = params.companies[1]
    assert dealer.policy.callback_kept == 0.95
    assert (
        dealer.policy.callback_probability == story.params.companies[1].policy.callback_probability
    )
    assert dealer.price == pytest.approx(115.0)
    assert dealer.quoted_price == pytest.approx(100.0)


def test_bill_above_quote_sets_the_price_from_the_quote() -> None:
    story = load_story("dealership")
    market, companies = page_values("dealership", levers={(1, "price_over_quote"): 0})
    params, _ = controls.build_params(story.params, market, companies)
    assert params.companies[1].price == pytest.approx(100.0)


def test_promotion_lever_sets_what_the_promotion_cannot_deliver() -> None:
    story = load_story("free_delivery_promotion")
    market, companies = page_values(
        "free_delivery_promotion", levers={(0, "promotion_excluded_share"): 0.0}
    )
    params, _ = controls.build_params(story.params, market, companies)
    assert params.companies[0].promotions[0].excluded_share == 0.0


def test_delivering_above_the_learning_ceiling_raises_the_ceiling() -> None:
    story = catalogue()[DEFAULTS]
    market, companies = page_values(DEFAULTS, levers={(0, "delivered_quality"): 1.0})
    params, _ = controls.build_params(story.params, market, companies)
    assert params.companies[0].delivered_quality == 1.0
    assert params.companies[0].max_quality == 1.0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"market": {"market.customers": -5}}, "People in the market"),
        ({"market": {"market.customers": None}}, "People in the market"),
        ({"market": {"market.customers": 10**9}}, "People in the market"),
        ({"market": {"market.customers": 40_000}}, "from 2 to 20000, got 40000"),
        ({"market": {"market.days": 5000}}, "Days: expected a number from 1 to 3650"),
        (
            {"market": {"market.customers": 20_000, "market.days": 3650}},
            "too large for the page",
        ),
        ({"market": {"drawn": 50_000}}, "People drawn"),
        ({"market": {"network.mean_degree": 7}}, "mean_degree must be even"),
        ({"market": {"network.mean_degree": 1000}}, "Contacts per person: expected a number"),
        ({"market": {"network.kind": "file"}}, "Who knows whom: expected one of small_world"),
        ({"market": {"network.path": "/etc/passwd"}}, "is not a control of this page"),
        ({"levers": {(1, "policy.queue_capacity"): -1}}, "Queue capacity (fixing)"),
        ({"levers": {(1, "unit_cost"): 1}}, "is not a control of this page"),
        (
            {"levers": {(0, "price_over_quote"): -150}},
            "Bill above the quote (%) (managing): expected a number from 0 to 50",
        ),
    ],
)
def test_odd_input_is_refused_with_a_message_naming_the_control(
    change: dict[str, Any], words: str
) -> None:
    story = catalogue()["manage_vs_fix"]
    market, companies = page_values("manage_vs_fix", change.get("market"), change.get("levers"))
    with pytest.raises(ControlError, match=words.replace("(", r"\(").replace(")", r"\)")):
        controls.build_params(story.params, market, companies)


def test_drawn_people_are_capped_by_the_market() -> None:
    story = catalogue()["manage_vs_fix"]
    market, companies = page_values("manage_vs_fix", {"market.customers": 300, "drawn": 1000})
    _, drawn = controls.build_params(story.params, market, companies)
    assert drawn == 300


# --------------------------------------------------------------------------- runs


def small_params(**overrides: Any) -> ModelParams:
    from cxsim.params import resolve

    return resolve(None, {"market.customers": 400, "market.days": 60, **overrides})


def test_runs_are_cached_by_their_full_parameter_set() -> None:
    simulation.clear_caches()
    a = simulation.simulate(small_params(), 100)
    assert simulation.simulate(small_params(), 100) is a
    b = simulation.simulate(small_params(**{"companies.0.policy.callback_kept": 1.0}), 100)
    assert b is not a
    assert simulation._run_cached.cache_info().maxsize == simulation.RUN_CACHE_SIZE


def test_a_run_is_the_same_after_eviction() -> None:
    a = simulation.simulate(small_params(), 100)
    simulation.clear_caches()
    b = simulation.simulate(small_params(), 100)
    assert a is not b
    assert a.frame.equals(b.frame)
    assert np.array_equal(a.provider, b.provider)
    assert a.journey.equals(b.journey)


def test_snapshots_record_the_drawn_people_every_day() -> None:
    run = simulation.simulate(small_params(), 150)
    assert run.stride == 1
    assert run.provider.shape == (61, 150)
    assert run.attitude.dtype == np.int8
    prospects = run.provider < 0
    assert np.all(run.attitude[prospects] == 0)
    # Day-0 customers match the market's own day 0.
    counts = np.bincount(run.provider[0][run.provider[0] >= 0], minlength=2)
    assert counts.sum() > 0


def test_long_runs_keep_a_bounded_number_of_snapshots() -> None:
    run = simulation.simulate(small_params(**{"market.days": 1000}), 50)
    assert run.stride == 3
    assert run.provider.shape[0] <= simulation.MAX_FRAMES


def test_journeys_are_tracked_for_exactly_the_drawn_people() -> None:
    run = simulation.simulate(small_params(), 120)
    assert set(run.journey["customer"].unique()) <= set(run.picture.nodes.tolist())
    assert len(run.journey) > 0


@pytest.mark.parametrize("kind", ["small_world", "scale_free", "random", "fully_mixed"])
def test_network_picture_is_deterministic_and_in_the_unit_square(kind: str) -> None:
    params = small_params(**{"network.kind": kind})
    simulation.clear_caches()
    a = simulation.picture(params, 200)
    simulation.clear_caches()
    b = simulation.picture(params, 200)
    assert np.array_equal(a.nodes, b.nodes)
    assert np.allclose(a.x, b.x)
    assert a.nodes.size == 200 == np.unique(a.nodes).size
    assert np.abs(a.x).max() <= 1.0 + 1e-6
    assert np.abs(a.y).max() <= 1.0 + 1e-6
    if kind == "fully_mixed":
        assert a.edge_from.size == 0
    else:
        assert a.edge_from.size > 0
        assert np.all(a.edge_from < a.edge_to)


def test_picture_of_a_small_network_shows_everyone() -> None:
    pic = simulation.picture(small_params(**{"market.customers": 50}), 1000)
    assert sorted(pic.nodes.tolist()) == list(range(50))


# --------------------------------------------------------------------------- figures


def test_figures_draw_every_company() -> None:
    run = simulation.simulate(small_params(), 100)
    for make in (
        figures.share_figure,
        figures.wom_figure,
        figures.money_figure,
        figures.nps_figure,
    ):
        fig = make(run)
        names = " ".join(t["name"] for t in fig["data"])
        assert "managing" in names
        assert "fixing" in names
        json.dumps(fig)  # plain JSON, no NaN objects or numpy values
    iceberg = figures.iceberg_figure(run)
    assert iceberg["data"][0]["x"] == ["managing", "fixing"]
    assert all(v <= 0 for v in iceberg["data"][1]["y"])  # silent problems sit below the waterline


def test_difference_of_a_run_with_itself_is_zero() -> None:
    run = simulation.simulate(small_params(), 100)
    fig = figures.difference_figure(run, run)
    assert len(fig["data"]) == 8
    assert all(np.allclose(np.asarray(t["y"], dtype=float), 0.0) for t in fig["data"])


def test_snapshot_payload_round_trips() -> None:
    import base64

    run = simulation.simulate(small_params(), 100)
    payload = figures.snapshot_payload(run)
    for name in ("provider", "attitude"):
        changes = np.frombuffer(base64.b64decode(payload[name]), dtype=np.uint8)
        frames = figures.frames_of(changes.reshape(payload["n"], payload["frames"]))
        assert np.array_equal(frames, getattr(run, name))
    net = figures.network_payload(run)
    assert len(net["ids"]) == payload["n"] == run.picture.nodes.size
    x = np.frombuffer(base64.b64decode(net["x"]), dtype="<i2") / net["scale"]
    assert np.array_equal(x, np.round(run.picture.x, 4))
    pairs = np.frombuffer(base64.b64decode(net["pairs"]), dtype="<u2").reshape(-1, 2)
    assert pairs.shape[0] == net["edges"] == run.picture.edge_from.size
    assert np.array_equal(pairs[:, 0], run.picture.edge_from)
    assert np.array_equal(pairs[:, 1], run.picture.edge_to)


def test_frame_changes_add_back_up_to_any_int8_frames() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(-128, 128, size=(7, 5)).astype(np.int8)
    frames[:, 0] = [-128, 127, -128, 0, 127, 127, -1]  # the widest jumps wrap around
    changes = figures.frame_changes(frames)
    assert changes.shape == (5, 7)
    assert changes.dtype == np.uint8
    assert np.array_equal(figures.frames_of(changes), frames)


def test_journey_of_a_drawn_customer_reads_as_a_story() -> None:
    run = simulation.simulate(small_params(**{"market.days": 200}), 200)
    busiest = int(run.journey["customer"].value_counts().index[0])
    fig = figures.journey_figure(run, busiest)
    assert fig["data"]
    json.dumps(fig)
    story = figures.journey_story(run, busiest)
    assert all(isinstance(day, int) and text for day, text, _ in story)
    counts = figures.journey_counts(run, busiest)
    assert counts["purchases"] >= 0


# --------------------------------------------------------------------------- the app over HTTP


def find(component: Any, ident: Any) -> Any:
    """The component with id ``ident`` in a layout, or None."""
    if getattr(component, "id", None) == ident:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = find(child, ident)
            if found is not None:
                return found
    return None


def test_create_app_offers_every_shipped_story() -> None:
    app = create_app()
    picker = find(app.layout, "story-select")
    offered = {o["value"] for o in picker.options}
    assert {p.stem for p in shipped_scenarios()} | {DEFAULTS} <= offered
    assert picker.value == "manage_vs_fix"


def test_create_app_starts_from_a_given_scenario_file() -> None:
    app = create_app(SCENARIO_DIR / "dealership.toml")
    assert find(app.layout, "story-select").value == "dealership"
    assert find(app.layout, layout.lever_id(1, "policy.callback_kept")).value == 0.05


def test_every_seed_story_has_a_tip_for_a_real_lever() -> None:
    keys = {c.key for c in controls.COMPANY_LEVERS}
    shipped = {p.stem for p in shipped_scenarios()}
    for name, tip in TIPS.items():
        assert tip.lever in keys
        if name in shipped:
            story = load_story(name)
            assert tip.company < len(story.params.companies)


def test_page_serves_offline_assets(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "cxsim" in text
    assert "https://cdn" not in text  # Dash's own files are served from the package


def test_run_callback_answers_with_charts_and_snapshots(app: Any, client: Any) -> None:
    response = post(client, run_request(app, market=SMALL))
    text, cls = message(response)
    assert "400 people for 60 days" in text
    assert "cx-ok" in cls
    assert response["share-graph"]["figure"]["data"]
    assert response["run-store"]["data"]["frames"] == 61
    assert response["run-ref"]["data"]["market"]["market.customers"] == 400


def test_odd_input_keeps_the_last_good_result(app: Any, client: Any) -> None:
    response = post(client, run_request(app, market={**SMALL, "market.customers": "lots"}))
    text, cls = message(response)
    assert "People in the market" in text
    assert "last good result" in text
    assert "cx-error" in cls
    assert "share-graph" not in response  # no_update: the charts keep what they show


def test_side_by_side_plots_the_difference(app: Any, client: Any) -> None:
    response = post(
        client,
        run_request(app, market=SMALL, levers={(0, "policy.callback_kept"): 1.0}, compare=True),
    )
    assert response["diff-panel"]["style"] == {"display": "block"}
    assert "baseline A" in message(response)[0]
    assert len(response["diff-graph"]["figure"]["data"]) >= 8


def test_clicking_a_person_shows_their_journey(app: Any, client: Any) -> None:
    response = post(client, run_request(app, market=SMALL))
    ref = response["run-ref"]["data"]
    person = response["network-store"]["data"]["ids"][3]
    simulation.clear_caches()  # the journey is recomputed from the reference if evicted
    answer = post(client, journey_request(app, ref, person))
    assert answer["selected-node"]["data"] == person
    assert answer["journey-person"]["data"] == person  # what the page checks a late answer by
    assert f"Journey of customer {person}" in json.dumps(answer["journey-graph"]["figure"])
    assert f"Person {person}" in json.dumps(answer["journey-story"]["children"])


def test_a_click_that_arrives_with_a_new_run_is_not_lost(app: Any, client: Any) -> None:
    response = post(client, run_request(app, market=SMALL))
    ref = response["run-ref"]["data"]
    earlier, clicked = response["network-store"]["data"]["ids"][3:5]
    # A busy page hands the click and the finished run to the callback in one call.
    for changed in (
        ("run-ref.data", "network-graph.clickData"),
        ("network-graph.clickData", "run-ref.data"),
    ):
        answer = post(client, journey_request(app, ref, clicked, selected=earlier, changed=changed))
        assert answer["selected-node"]["data"] == clicked
    # A new run alone keeps following the person already selected.
    answer = post(
        client, journey_request(app, ref, clicked, selected=earlier, changed=("run-ref.data",))
    )
    assert f"Person {earlier}" in json.dumps(answer["journey-story"]["children"])


def test_a_forged_journey_request_cannot_run_a_huge_market(app: Any, client: Any) -> None:
    response = post(client, run_request(app, market=SMALL))
    ref = response["run-ref"]["data"]
    ref["market"]["market.customers"] = 10_000_000
    answer = post(client, journey_request(app, ref, 1))
    assert "People in the market: expected a number from 2 to 20000" in json.dumps(
        answer["journey-story"]["children"]
    )


# --------------------------------------------------------------------------- the command


def test_dashboard_command_is_added_to_a_parser() -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="cxsim")
    dashboard_cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["dashboard", "--port", "9000", "--scenario", "dealership"])
    assert args.port == 9000
    assert args.host == "127.0.0.1"
    assert args.scenario == "dealership"
    assert callable(args.handler)


def test_dashboard_command_refuses_a_missing_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    code = dashboard_cli.main(["--scenario", "no_such_story"])
    assert code == 2
    assert "no_such_story" in capsys.readouterr().err


def test_dashboard_command_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = dashboard_cli.main(["--port", str(port)])
    assert code == 2


def test_the_command_serves_through_waitress_without_a_development_server_warning(
    tmp_path: Any,
) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "cxsim.dashboard", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:
                    served_by = answer.headers.get("Server", "")
                    break
            except OSError:
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    said = log_path.read_text()
    assert "Werkzeug" not in served_by  # Flask's development server names itself so
    assert served_by == "cxsim"  # waitress, told to name the page rather than itself
    assert "development server" not in said
    assert f"open http://localhost:{port}/" in said


def test_answers_are_compressed_for_browsers_that_accept_it(app: Any, client: Any) -> None:
    import gzip

    body = run_request(app, market=SMALL)
    plain = client.post("/_dash-update-component", json=body)
    packed = client.post(
        "/_dash-update-component", json=body, headers={"Accept-Encoding": "gzip, deflate, br"}
    )
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3


def test_every_story_claim_names_a_key_figure_the_page_shows_at_a_size_it_runs() -> None:
    from cxsim.dashboard.stories import CLAIM_WORDS

    shown = {column for column, *_ in layout.KPIS}
    for name, story in catalogue().items():
        claim = story.claim
        if claim is None:
            continue
        assert claim.figure in CLAIM_WORDS
        assert claim.figure in shown
        assert claim.ahead != claim.behind
        assert max(claim.ahead, claim.behind) < len(story.params.companies), name
        params, _ = controls.build_params(
            story.params, layout.opening_values(story), [{} for _ in story.params.companies]
        )
        assert params.market.customers == claim.customers
        assert params.market.days == claim.days


def test_a_story_opens_at_its_claims_size_and_says_its_claim(app: Any) -> None:
    story = catalogue()["manage_vs_fix"]
    values = layout.opening_values(story)
    assert values["market.customers"] == story.claim.customers
    assert values["market.days"] == story.claim.days
    text = repr(layout.story_text(story))
    assert "What you will see" in text
    assert f"by day {story.claim.days:,}" in text
