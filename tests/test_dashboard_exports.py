"""The dashboard's downloads: its settings as a scenario file, its run as the CLI's CSV.

The settings a student downloads must be a researcher's file: ``cxsim run`` runs
it unchanged, with the page's seed, to the page's numbers. The results must be the
file ``cxsim run`` writes for that run. The browser test (test_dashboard_browser.py)
clicks the buttons; these answer the server's callback over HTTP.
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")

from cxsim import cli, scenario
from cxsim.dashboard import exports
from cxsim.dashboard.app import create_app
from tests.test_dashboard import _output_spec, message, post, run_request

#: A small market with changes a student might make: another seed, other levers.
SETTINGS = {"market.customers": 500, "market.days": 90, "market.seed": 7, "drawn": 200}
LEVERS = {(0, "policy.callback_kept"): 0.65, (1, "price_over_quote"): 8}


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.server.test_client()


def export_request(app: Any, button: str, run_ref: Any) -> dict[str, Any]:
    """The body the browser POSTs when a download button is clicked."""
    key, outputs = _output_spec(app, "download.data")
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [
            {"id": "export-toml", "property": "n_clicks", "value": int(button == "export-toml")},
            {"id": "export-csv", "property": "n_clicks", "value": int(button == "export-csv")},
        ],
        "state": [{"id": "run-ref", "property": "data", "value": run_ref}],
        "changedPropIds": [f"{button}.n_clicks"],
    }


def shown_run(app: Any, client: Any) -> dict[str, Any]:
    """The page's answer to the student's settings (its run-ref is what downloads use)."""
    response = post(client, run_request(app, market=SETTINGS, levers=LEVERS))
    assert message(response)[1] == "cx-message cx-ok", message(response)
    return response


def downloaded(app: Any, client: Any, button: str, run_ref: Any) -> dict[str, Any]:
    response = post(client, export_request(app, button, run_ref))
    return response["download"]["data"]


@pytest.fixture(scope="module")
def cli_run(app: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The downloaded scenario file, run by ``cxsim run`` into a folder; and the page's answer."""
    client = app.server.test_client()
    response = shown_run(app, client)
    data = downloaded(app, client, "export-toml", response["run-ref"]["data"])
    folder = tmp_path_factory.mktemp("export")
    path = folder / data["filename"]
    path.write_text(data["content"], encoding="utf-8")
    out = folder / "run"
    assert cli.main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    return path, out, response


def test_settings_download_is_a_scenario_file_named_by_story_and_settings(
    cli_run: tuple[Path, Path, dict],
) -> None:
    path, _, response = cli_run
    stem = response["export-name"]["data"]
    assert path.name == f"{stem}.toml"
    assert stem.startswith("manage_vs_fix-")
    assert stem.removeprefix("manage_vs_fix-") in response["message"]["children"]
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["market"]["seed"] == 7
    assert data["market"]["customers"] == 500
    assert data["companies"][0]["policy"]["callback_kept"] == 0.65
    loaded = scenario.load(path)
    assert "as set on the dashboard" in loaded.description
    assert any("Made by: the cxsim dashboard" in line for line in loaded.header)


def test_cxsim_run_of_the_downloaded_settings_gives_the_pages_numbers(
    app: Any, cli_run: tuple[Path, Path, dict]
) -> None:
    _, out, response = cli_run
    client = app.server.test_client()
    csv = downloaded(app, client, "export-csv", response["run-ref"]["data"])
    # The same run written by the same writer: the files are identical, byte for byte.
    assert csv["content"] == (out / "timeseries.csv").read_text(encoding="utf-8")
    # And the key figures the page shows are those cxsim run reports for the file.
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    kpis = response["kpis"]["children"]
    shown = json.dumps(kpis)
    for name in ("managing", "fixing"):
        figures = summary_figures(summary, name)
        assert f"{figures['retention']:.1%}" in shown
        assert f"{figures['market_share']:.1%}" in shown
        assert f"{figures['nps']:+.0f}" in shown


def test_results_download_is_the_clis_tidy_frame(app: Any, client: Any) -> None:
    response = shown_run(app, client)
    csv = downloaded(app, client, "export-csv", response["run-ref"]["data"])
    assert csv["filename"] == f"{response['export-name']['data']}-timeseries.csv"
    frame = pd.read_csv(io.StringIO(csv["content"]))
    assert list(frame.columns[:3]) == ["day", "company", "replication"]
    assert set(frame["replication"]) == {0}
    assert set(frame["company"]) == {"managing", "fixing"}
    assert frame["day"].max() == SETTINGS["market.days"]


def test_a_forged_reference_downloads_nothing(app: Any, client: Any) -> None:
    forged = {
        "story": "manage_vs_fix",
        "market": {**SETTINGS, "market.customers": 10**7},
        "companies": [{}, {}],
    }
    response = post(client, export_request(app, "export-toml", forged))
    assert "download" not in response
    assert "Cannot download" in response["export-status"]["children"]


def test_exported_file_loads_back_as_the_same_parameters() -> None:
    from cxsim.dashboard.stories import catalogue

    story = catalogue()["dealership"]
    text = exports.scenario_file(story, story.params, "dealership-test")
    assert scenario.from_text(text, Path("dealership-test.toml")).params == story.params


def summary_figures(summary: dict[str, Any], company: str) -> dict[str, float]:
    """A company's figures in ``cxsim run``'s summary.json (one replication: the values)."""
    entry = next(c for c in summary["companies"] if c["name"] == company)
    return {k: v["values"][0] for k, v in entry["figures"].items()}
