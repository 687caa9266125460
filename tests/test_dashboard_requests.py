"""The dashboard's server against forged and malformed requests (issue 11, item 2).

Only the page's controls and their ranges are accepted (see test_dashboard.py's
``test_odd_input_is_refused_with_a_message_naming_the_control``); here: no request can make the
server read a file that is not a story's own, malformed requests are answered 4xx (never 5xx),
and a student reads words, never an exception's name.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")

from cxsim import networks
from cxsim.dashboard import callbacks, guard, simulation
from cxsim.dashboard import cli as dashboard_cli
from cxsim.dashboard.app import create_app
from cxsim.dashboard.controls import ControlError
from cxsim.dashboard.stories import catalogue, load_story

from . import test_dashboard as page
from .test_dashboard import SMALL, journey_request, run_request

ROUTE = "/_dash-update-component"


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.server.test_client()


def answer_text(answer: Any) -> str:
    return answer.get_data(as_text=True)


@pytest.fixture
def no_file_is_read(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record (and refuse) every network file the server tries to read."""
    tried: list[Path] = []

    def refuse(path: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append(Path(path))
        raise AssertionError(f"the server read {path}")

    for reader in ("read_network_file", "read_edge_list"):
        monkeypatch.setattr(networks, reader, refuse, raising=False)
    simulation.clear_caches()
    return tried


# --------------------------------------------------------------------------- files


def forged_refs(ref: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    """References a client could send back instead of the page's own, naming ``target``."""
    market, companies = ref.get("market", {}), ref.get("companies", [])

    def settings(**changes: Any) -> dict[str, Any]:
        return {"story": ref["story"], "market": {**market, **changes}, "companies": companies}

    return {
        # The reference main at 9a3ff59 trusted: whole parameters, network included.
        "parameters": {
            "story": ref["story"],
            "params": {"network": {"kind": "file", "path": target}, "market": {"customers": 3}},
            "drawn": 3,
        },
        "file and path": settings(**{"network.kind": "file", "network.path": target}),
        "kind only": settings(**{"network.kind": "file"}),
        "degree": settings(**{"network.mean_degree": 1000}),
    }


def test_a_forged_journey_reference_cannot_make_the_server_read_a_file(
    app: Any, client: Any, tmp_path: Path, no_file_is_read: list[Path]
) -> None:
    secret = tmp_path / "secret.edgelist"
    secret.write_text("0 1\n1 2\n", encoding="utf-8")
    ref = page.post(client, run_request(app, market=SMALL))["run-ref"]["data"]
    words = {}
    for target in (str(secret), str(tmp_path / "absent.edgelist"), "/etc/passwd"):
        for name, forged in forged_refs(ref, target).items():
            answer = client.post(ROUTE, json=journey_request(app, forged, 1))
            assert answer.status_code == 200, answer_text(answer)[:300]
            text = json.dumps(answer.get_json()["response"]["journey-story"]["children"])
            assert "Cannot show the journey" in text
            assert target not in text
            words.setdefault(name, set()).add(text)
    assert no_file_is_read == []
    # Whether a file exists changes nothing in the answer.
    assert all(len(texts) == 1 for texts in words.values()), words


def test_the_run_callback_reads_no_file_a_request_names(
    app: Any, client: Any, no_file_is_read: list[Path]
) -> None:
    for market in (
        {**SMALL, "network.kind": "file"},
        {**SMALL, "network.path": "/etc/passwd"},
        {**SMALL, "network.mean_degree": 1000},
    ):
        response = page.post(client, run_request(app, market=market))
        text, cls = page.message(response)
        assert "cx-error" in cls
        assert "Who knows whom" in text or "not a control" in text or "Contacts per person" in text
    assert no_file_is_read == []


CAMPUS = """# A campus: who knows whom comes from a file of real contacts
[market]
customers = 300
days = 30
[network]
kind = "file"
path = "contacts.edgelist"
"""


@pytest.fixture
def campus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    lines = [f"{i} {(i + k) % 300}\n" for i in range(300) for k in (1, 2, 3)]
    (tmp_path / "contacts.edgelist").write_text("".join(lines), encoding="utf-8")
    path = tmp_path / "campus.toml"
    path.write_text(CAMPUS, encoding="utf-8")
    monkeypatch.setattr(page, "catalogue", lambda: catalogue(path))
    return path


def test_a_story_named_at_start_up_runs_with_its_own_network_file(campus: Path) -> None:
    app = create_app(campus)
    client = app.server.test_client()
    response = page.post(client, run_request(app, "campus", market={"drawn": 100}))
    text, cls = page.message(response)
    assert "cx-ok" in cls, text
    assert "300 people for 365 days" in text
    # The file fixes the market's size; a shipped story has no file to offer.
    text, _ = page.message(
        page.post(client, run_request(app, "campus", market={"market.customers": 500}))
    )
    assert "this story's contacts come from its network file" in text
    text, _ = page.message(
        page.post(client, run_request(app, market={**SMALL, "network.kind": "file"}))
    )
    assert "Who knows whom" in text


def test_story_files_are_the_only_files_a_run_may_read(campus: Path, tmp_path: Path) -> None:
    story = load_story(campus)
    files = guard.StoryFiles.of([story])
    assert files.paths == {(tmp_path / "contacts.edgelist").resolve()}
    files.check(story.params, story.base_dir)
    other = story.params.model_copy(deep=True)
    other.network.path = "../elsewhere/contacts.edgelist"
    with pytest.raises(ControlError, match="reads no network file but a story's own"):
        files.check(other, story.base_dir)
    with pytest.raises(ControlError):
        guard.StoryFiles.of([]).check(story.params, story.base_dir)


# --------------------------------------------------------------------------- malformed requests


def malformed_bodies(app: Any) -> dict[str, dict[str, Any]]:
    """Requests Dash cannot use: each must get a 400."""
    body = run_request(app, market=SMALL)

    def changed(change: Any) -> dict[str, Any]:
        copied = copy.deepcopy(body)
        change(copied)
        return {"json": copied}

    return {
        "not JSON": {"data": "{nope", "content_type": "application/json"},
        "not JSON at all": {"data": b"\xff\x00", "content_type": "text/plain"},
        "an empty object": {"json": {}},
        "a list": {"json": [1, 2]},
        "a number": {"json": 7},
        "an unknown callback": changed(lambda b: b.update(output="x.y")),
        "no outputs": changed(lambda b: b.pop("outputs")),
        "outputs not a list": changed(lambda b: b.update(outputs="x")),
        "inputs not a list": changed(lambda b: b.update(inputs=5)),
        "too few inputs": changed(lambda b: b.update(inputs=b["inputs"][:1])),
        "an input of the wrong property": changed(lambda b: b["inputs"][2].update(property="x")),
        "pattern inputs not a list": changed(lambda b: b["inputs"].__setitem__(0, {"a": 1})),
        "state missing": changed(lambda b: b.pop("state")),
        "changed ids not strings": changed(lambda b: b.update(changedPropIds=[1])),
    }


def test_malformed_requests_get_a_400_and_the_server_stays_up(app: Any, client: Any) -> None:
    for name, request in malformed_bodies(app).items():
        answer = client.post(ROUTE, **request)
        assert answer.status_code == 400, (name, answer.status_code, answer_text(answer)[:200])
        assert "bad request" in answer_text(answer), name
    assert client.get("/").status_code == 200
    assert "cx-ok" in page.message(page.post(client, run_request(app, market=SMALL)))[1]


def odd_values(app: Any) -> dict[str, dict[str, Any]]:
    """Well-formed requests carrying values the page itself never sends."""
    run = run_request(app, market=SMALL)
    ref = {"story": "manage_vs_fix", "market": {}, "companies": []}
    journey = journey_request(app, ref, 1)

    def changed(body: dict[str, Any], change: Any) -> dict[str, Any]:
        copied = copy.deepcopy(body)
        change(copied)
        return copied

    return {
        "story is a list": changed(run, lambda b: b["state"][2].update(value=["x"])),
        "story is a dict": changed(run, lambda b: b["state"][2].update(value={"a": 1})),
        "lever company is text": changed(
            run, lambda b: b["state"][1][0]["value"].update(company="a")
        ),
        "lever ids are numbers": changed(run, lambda b: b["state"][1][0].update(value=3)),
        "market ids dropped": changed(run, lambda b: b["state"].__setitem__(0, [])),
        "baseline of the wrong shape": changed(
            run,
            lambda b: (
                b["inputs"][2].update(value=["on"]),
                b["inputs"][3].update(value={"story": "manage_vs_fix", "companies": 5}),
            ),
        ),
        "compare is a number": changed(run, lambda b: b["inputs"][2].update(value=7)),
        "day is text": changed(run, lambda b: b["state"][4].update(value="late")),
        "selected is a dict": changed(
            journey,
            lambda b: (
                b["state"][0].update(value={"a": 1}),
                b.update(changedPropIds=["run-ref.data"]),
            ),
        ),
        "click points not a list": changed(
            journey, lambda b: b["inputs"][0].update(value={"points": 7})
        ),
        "click is text": changed(journey, lambda b: b["inputs"][0].update(value="x")),
        "click point is a number": changed(
            journey, lambda b: b["inputs"][0].update(value={"points": [3]})
        ),
        "reference is a list": changed(journey, lambda b: b["inputs"][1].update(value=[1])),
        "reference of an unknown story": changed(
            journey, lambda b: b["inputs"][1]["value"].update(story=[])
        ),
        "reference market is text": changed(
            journey, lambda b: b["inputs"][1]["value"].update(market="x")
        ),
    }


def test_odd_values_get_a_message_in_words_never_a_500(app: Any, client: Any) -> None:
    for name, body in odd_values(app).items():
        answer = client.post(ROUTE, json=body)
        assert answer.status_code in (200, 204), (
            name,
            answer.status_code,
            answer_text(answer)[:200],
        )
        text = answer_text(answer)
        for inside in ("Error", "Traceback", "internal error", "zip()"):
            assert inside not in text, (name, text[:300])
    assert client.get("/").status_code == 200


def test_a_failing_run_shows_words_not_the_exception(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("market")

    monkeypatch.setattr(callbacks, "simulate", broken)
    text, cls = page.message(page.post(client, run_request(app, market=SMALL)))
    assert "cx-error" in cls
    assert "Something went wrong on the server" in text
    assert "KeyError" not in text


def test_a_callback_that_raises_tells_the_student_in_the_message_bar(
    app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = page.post(client, run_request(app, market=SMALL))["run-ref"]["data"]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(callbacks.figures, "journey_figure", broken)
    answer = client.post(ROUTE, json=journey_request(app, ref, 1))
    assert answer.status_code == 200
    payload = answer.get_json()
    assert payload["sideUpdate"]["message"]["children"] == guard.FAILED_MESSAGE
    assert payload["response"] == {}  # nothing else changes


# --------------------------------------------------------------------------- the host


def test_the_dashboard_help_says_what_serving_on_every_address_exposes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert dashboard_cli.main(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("0.0.0.0", "anyone", "no password", "reads no file"):
        assert words in text, words
