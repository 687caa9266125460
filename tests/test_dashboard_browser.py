"""The dashboard in a real browser: Debian's chromium driven by Playwright.

The server runs as ``python -m cxsim.dashboard`` on a free port of 127.0.0.1.
Chromium is installed with apt-get when missing and we are root; otherwise
these tests are skipped with the reason. Playwright's own browser download is
never used: the tests launch ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("dash", reason="the dashboard extra (dash) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from cxsim.dashboard.layout import KPIS  # noqa: E402  (after the skips above)
from cxsim.dashboard.stories import TIPS, catalogue  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The flagship story's opening size and horizon (its claim's, in stories.py).
FLAGSHIP = catalogue()["manage_vs_fix"].opening
FLAGSHIP_DAYS = FLAGSHIP["market.days"]
#: Where a run's screenshots are also copied for people to look at (set CXSIM_SHOTS=DIR).
SHOTS_ENV = "CXSIM_SHOTS"
RUN_TIMEOUT_MS = 60_000


# --------------------------------------------------------------------------- set-up


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing and we are root."""
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(
                ["apt-get", "update", "-qq"], env=env, timeout=300, check=False, capture_output=True
            )
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "chromium"],
                env=env,
                timeout=600,
                check=False,
                capture_output=True,
            )
        except subprocess.TimeoutExpired:
            pass
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (needs root and apt-get)")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    timeout: float = 90.0, extra: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``python -m cxsim.dashboard`` on a free port; return the process and its address.

    ``env``: the server's environment (default: this process's).

    The server's log goes to a temporary file, not a pipe: nobody reads a pipe
    while the tests run, and a full pipe would stall the server mid-request.
    """
    port = _free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 (the server writes to it after we return)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxsim.dashboard",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the dashboard server stopped: {log.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the dashboard server did not start in time")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    process, url = start_server()
    try:
        yield url
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, server: str) -> Iterator[Any]:
    """One student's browser session on the dashboard, after its first run arrived.

    The tests below share it, in order, as a student would (loading the page
    once keeps the browser tests fast); each leaves the page runnable.
    """
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(server)
    wait_for_run(tab)
    wait_for_network(tab)
    yield tab
    context.close()
    assert not errors, errors


# --------------------------------------------------------------------------- helpers


def wait_for_run(tab: Any, previous: str | None = None) -> str:
    """Wait until the message bar reports a finished run (a new one, if ``previous`` is given)."""
    tab.wait_for_function(
        """(previous) => {
            const m = document.querySelector('#message');
            return m && m.innerText.includes('simulated in') && m.innerText !== previous;
        }""",
        arg=previous,
        timeout=RUN_TIMEOUT_MS,
    )
    return tab.inner_text("#message")


def wait_for_network(tab: Any) -> None:
    tab.wait_for_function(
        """() => {
            const gd = document.querySelector('#network-graph .js-plotly-plot');
            return gd && gd.data && gd.data.length > 1 && gd.data[1].customdata;
        }""",
        timeout=RUN_TIMEOUT_MS,
    )


def figure_data(tab: Any, graph_id: str) -> str:
    """The data of a chart as the browser draws it, as JSON."""
    return tab.evaluate(
        """(id) => {
            const gd = document.querySelector('#' + id + ' .js-plotly-plot');
            return JSON.stringify(gd.data.map(t => [t.name, t.y]));
        }""",
        graph_id,
    )


def lever(tab: Any, company: int, key: str) -> Any:
    ident = {"company": company, "key": key.replace(".", "__"), "type": "lever"}
    return tab.locator(f"[id='{json.dumps(ident, separators=(',', ':'))}']")


def node_position(tab: Any, index: int) -> tuple[float, float, int]:
    """Page coordinates and customer id of the ``index``-th person drawn."""
    x, y, person = tab.evaluate(
        """(i) => {
            const gd = document.querySelector('#network-graph .js-plotly-plot');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const t = gd.data[1];
            const box = gd.getBoundingClientRect();
            return [box.left + xa._offset + xa.l2p(t.x[i]),
                    box.top + ya._offset + ya.l2p(t.y[i]), t.customdata[i]];
        }""",
        index,
    )
    return float(x), float(y), int(person)


def unhappiest_customer(tab: Any) -> int:
    """Index, in the picture, of the customer with the lowest attitude toward its company."""
    return int(
        tab.evaluate(
            """() => {
                const t = document.querySelector('#network-graph .js-plotly-plot').data[1];
                let best = 0, low = 2;
                t.text.forEach((s, i) => {
                    const m = s.match(/attitude ([-+][0-9.]+)/);
                    if (m && parseFloat(m[1]) < low) { low = parseFloat(m[1]); best = i; }
                });
                return best;
            }"""
        )
    )


def wait_until_settled(tab: Any) -> None:
    """Wait until no callback is in flight (Dash shows ``._dash-loading-callback`` while one is).

    A finished run also asks for the journey of the person selected before; a click made
    while that answer is on its way can be overwritten by it (the page does not drop a late
    answer of the same callback), so the tests click on a settled page.
    """
    tab.wait_for_function(
        "() => document.querySelector('._dash-loading-callback') === null",
        timeout=RUN_TIMEOUT_MS,
    )


def click_person(tab: Any, index: int) -> int:
    """Click a person in the network picture, once the page has settled; return its customer id."""
    wait_until_settled(tab)
    tab.locator("#network-graph").scroll_into_view_if_needed()
    x, y, person = node_position(tab, index)
    tab.mouse.move(x, y)
    tab.mouse.click(x, y)
    return person


def wait_for_journey(tab: Any, person: int) -> None:
    """Wait until the journey shown is ``person``'s (a previous person's may still be shown)."""
    tab.wait_for_function(
        """(person) => {
            const story = document.querySelector('#journey-story');
            return story && document.querySelector('#journey-events')
                && story.innerText.includes(`Person ${person}:`);
        }""",
        arg=person,
        timeout=RUN_TIMEOUT_MS,
    )


def screenshot(tab: Any, path: Path, height: int = 2450) -> Path:
    """Save the page, seen in a window tall enough to show it all."""
    size = tab.viewport_size
    tab.set_viewport_size({"width": size["width"], "height": height})
    tab.wait_for_timeout(300)  # let the charts take the new size
    tab.screenshot(path=str(path))
    tab.set_viewport_size(size)
    assert path.stat().st_size > 10_000
    shots = os.environ.get(SHOTS_ENV)
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(shots) / path.name)
    return path


# --------------------------------------------------------------------------- tests


def test_page_opens_on_the_flagship_story(page: Any, tmp_path: Path) -> None:
    size = f"{FLAGSHIP['market.customers']:,} people for {FLAGSHIP_DAYS:,} days"
    assert f"manage vs fix: {size}" in page.inner_text("#message")
    assert "managing" in page.inner_text("#kpis")
    assert "fixing" in page.inner_text("#kpis")
    assert page.inner_text("#day-label") == f"day {FLAGSHIP_DAYS}"
    screenshot(page, tmp_path / "dashboard-default.png")


def the_opening_run() -> Any:
    """The run the page opens with, computed here from the flagship's opening controls."""
    from cxsim.dashboard import controls, layout, simulation

    story = catalogue()["manage_vs_fix"]
    companies = [controls.lever_values(c) for c in story.params.companies]
    market = layout.opening_values(story)
    params, drawn = controls.build_params(story.params, market, companies)
    return simulation.simulate(params, drawn, story.base_dir)


def test_the_picture_shows_the_runs_own_snapshots(page: Any) -> None:
    from cxsim.dashboard import exports

    run = the_opening_run()
    assert f"#{exports.fingerprint(run.key)}" in page.inner_text("#message")  # the same run
    names = run.company_names
    for day in (0, 1, FLAGSHIP_DAYS // 3, FLAGSHIP_DAYS):
        page.evaluate("(d) => window.dash_clientside.set_props('day-slider', {value: d})", day)
        page.wait_for_function(
            "(d) => document.querySelector('#network-tally').innerText.startsWith(`day ${d}:`)",
            arg=day,
            timeout=20_000,
        )
        text = page.evaluate(
            "() => document.querySelector('#network-graph .js-plotly-plot').data[1].text"
        )
        frame = day // run.stride
        expected = [
            "nobody's customer"
            if p < 0
            else f"{names[p]}'s customer, attitude {a / 100:+.2f}".replace("+-", "-")
            for p, a in zip(run.provider[frame], run.attitude[frame], strict=True)
        ]
        assert [t.split(": ", 1)[1] for t in text] == expected
        counts = [int((run.provider[frame] == k).sum()) for k in range(len(names))]
        tally = " · ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
        assert page.inner_text("#network-tally").startswith(f"day {day}: {tally}")


def test_moving_a_slider_changes_the_charts(page: Any) -> None:
    before = figure_data(page, "money-graph")
    shown = page.inner_text("#message")
    # CRM touches cost money whatever the market's luck, so the profit line must move.
    thumb = lever(page, 0, "policy.crm_touches_per_month").locator("[role=slider]")
    thumb.focus()
    thumb.press("End")  # the most touches a month
    wait_for_run(page, shown)
    page.wait_for_function(
        """(before) => {
            const gd = document.querySelector('#money-graph .js-plotly-plot');
            return JSON.stringify(gd.data.map(t => [t.name, t.y])) !== before;
        }""",
        arg=before,
        timeout=RUN_TIMEOUT_MS,
    )
    assert figure_data(page, "money-graph") != before


#: Pause only while playing, in one step inside the page: between a check made from Python
#: and a click from Python the play can reach the last day, and a click there starts it over.
PAUSE_IF_PLAYING_JS = """() => {
    const button = document.querySelector('#play-button');
    if (button.innerText !== 'Pause') { return false; }
    button.click();
    return true;
}"""


def test_play_moves_the_network_through_time(page: Any) -> None:
    last = page.inner_text("#day-label")
    assert last == f"day {FLAGSHIP_DAYS}"
    tally_before = page.inner_text("#network-tally")
    stopped = last
    for _attempt in range(3):  # a slow machine may play to the end before the pause lands
        page.click("#play-button")  # at the last day, play starts over from day 0
        page.wait_for_function(
            """(last) => {
                const label = document.querySelector('#day-label').innerText;
                const d = parseInt(label.replace('day ', ''));
                const tally = document.querySelector('#network-tally').innerText;
                return d > 0 && d < last && tally.startsWith(label + ':');
            }""",
            arg=FLAGSHIP_DAYS,
            timeout=30_000,
        )
        paused = page.evaluate(PAUSE_IF_PLAYING_JS)
        page.wait_for_function(
            "() => document.querySelector('#play-button').innerText === 'Play'", timeout=30_000
        )
        page.wait_for_timeout(1_000)  # a frame already on its way may still land
        stopped = page.inner_text("#day-label")
        if paused and stopped != last:
            break
    assert stopped != last, "play never stopped before the last day"
    page.wait_for_function(
        "(label) => document.querySelector('#network-tally').innerText.startsWith(label + ':')",
        arg=stopped,
        timeout=20_000,
    )
    page.wait_for_timeout(1_000)
    assert page.inner_text("#day-label") == stopped  # paused: the timer no longer moves it
    assert page.inner_text("#network-tally") != tally_before


@pytest.mark.parametrize(
    ("triggered", "expected"),
    [
        (["play-timer.n_intervals", "play-button.n_clicks"], [True, "no_update", "Play"]),
        (["play-button.n_clicks", "play-timer.n_intervals"], [True, "no_update", "Play"]),
        (["play-timer.n_intervals"], ["no_update", 106, "no_update"]),
    ],
)
def test_a_pause_that_lands_with_a_tick_still_pauses(
    page: Any, triggered: list[str], expected: list[Any]
) -> None:
    """A busy browser hands a click and a timer tick to the play callback in one call."""
    from cxsim.dashboard.callbacks import PLAY_JS

    got = page.evaluate(
        """([source, triggered]) => {
            const dc = window.dash_clientside;
            const saved = dc.callback_context;
            dc.callback_context = {triggered: triggered.map(p => ({prop_id: p, value: 1}))};
            try {
                const out = eval('(' + source + ')')(3, 40, 100, 365, false);
                return out.map(v => v === dc.no_update ? 'no_update' : v);
            } finally {
                dc.callback_context = saved;
            }
        }""",
        [PLAY_JS, triggered],
    )
    assert got == expected


def test_clicking_a_person_shows_their_journey(page: Any, tmp_path: Path) -> None:
    person = click_person(page, unhappiest_customer(page))
    wait_for_journey(page, person)
    assert f"Person {person}:" in page.inner_text("#journey-story")
    assert f"Journey of customer {person}" in page.evaluate(
        "() => document.querySelector('#journey-graph .js-plotly-plot').layout.title.text"
    )
    rings = page.evaluate(
        "() => document.querySelector('#network-graph .js-plotly-plot').data.length"
    )
    assert rings >= 6  # contacts, people, legend entries and the ring round the chosen person
    screenshot(page, tmp_path / "dashboard-journey.png")


def test_side_by_side_with_network_and_journey(page: Any, tmp_path: Path) -> None:
    shown = page.inner_text("#message")
    page.locator("#compare-toggle input").check()
    shown = wait_for_run(page, shown)
    assert "side by side with baseline A" in shown
    lever(page, 0, "policy.preset").get_by_text("fix", exact=True).click()
    wait_for_run(page, shown)
    page.wait_for_selector("#diff-panel", state="visible")
    assert "A" in page.inner_text("#kpis")
    traces = page.evaluate(
        "() => document.querySelector('#diff-graph .js-plotly-plot').data.length"
    )
    assert traces >= 8
    person = click_person(page, unhappiest_customer(page))
    wait_for_journey(page, person)
    assert f"Person {person}:" in page.inner_text("#journey-story")
    screenshot(page, tmp_path / "dashboard-side-by-side.png")


def test_a_late_answer_for_another_person_does_not_stay_on_the_journey(page: Any) -> None:
    """A journey answer that arrives after a newer one (the page's race) is asked for again.

    The late answer is made by hand (the renderer's own ``set_props``), as a finished run's
    answer for the person selected before would land: the panel asks again for the person
    last clicked.
    """
    person = click_person(page, unhappiest_customer(page))
    wait_for_journey(page, person)
    other = person + 1
    page.evaluate(
        """(other) => {
            window.dash_clientside.set_props('journey-story', {children: `Person ${other}: late`});
            window.dash_clientside.set_props('journey-person', {data: other});
        }""",
        other,
    )
    wait_for_journey(page, person)
    wait_until_settled(page)
    assert f"Person {person}:" in page.inner_text("#journey-story")


def test_a_value_out_of_range_shows_a_message_and_keeps_the_charts(page: Any) -> None:
    before = figure_data(page, "share-graph")
    box = page.locator('[id=\'{"key":"market__customers","type":"market"}\']')
    box.fill("99999999")
    box.press("Enter")
    page.wait_for_selector("#message.cx-error", timeout=RUN_TIMEOUT_MS)
    assert "People in the market" in page.inner_text("#message")
    assert figure_data(page, "share-graph") == before
    box.fill("1500")  # back to a market the page runs
    box.press("Enter")
    wait_for_run(page)
    assert "1,500 people" in page.inner_text("#message")


def test_opening_a_story_keeps_its_own_levers(page: Any) -> None:
    shown = page.inner_text("#message")
    page.click("#try-panel summary")
    page.locator('[id=\'{"story":"quiet_by_wearing_out","type":"open-story"}\']').click()
    shown = wait_for_run(page, shown)
    assert shown.startswith("quiet by wearing out")
    heavy = lever(page, 1, "policy.crm_touches_per_month").locator("[role=slider]")
    assert heavy.get_attribute("aria-valuenow") == "12"
    assert "heavy CRM" in page.inner_text("#kpis")


def download(tab: Any, button: str, folder: Path) -> Path:
    """Click a download button; return the file the browser saved."""
    with tab.expect_download(timeout=RUN_TIMEOUT_MS) as info:
        tab.click(f"#{button}")
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved


def test_each_download_arrives(page: Any, tmp_path: Path) -> None:
    from cxsim import scenario

    shown = page.inner_text("#message")
    settings = download(page, "export-toml", tmp_path)
    assert settings.suffix == ".toml"
    story = shown.split(":")[0].replace(" ", "_")
    assert settings.stem.startswith(f"{story}-")  # named by the story and its settings
    loaded = scenario.from_text(settings.read_text(encoding="utf-8"), settings)
    assert f"{loaded.params.market.customers:,} people" in shown
    results = download(page, "export-csv", tmp_path)
    frame = pd.read_csv(results)
    assert set(frame["company"]) == {c.name for c in loaded.params.companies}
    assert frame["day"].max() == loaded.params.market.days
    picture = download(page, "export-png", tmp_path)
    assert picture.name == f"{settings.stem}-page.png"
    head = picture.read_bytes()
    assert head.startswith(b"\x89PNG\r\n\x1a\n")
    # The page's main area at twice the size: charts, key figures and network, not a blank.
    width, height = struct.unpack(">II", head[16:24])
    assert width > 1500, width
    assert height > 2000, height
    assert len(head) > 100_000
    assert "Saved" in page.inner_text("#export-status")
    shots = os.environ.get(SHOTS_ENV)
    if shots:
        shutil.copy(picture, Path(shots) / "dashboard-export.png")


# --------------------------------------------------------------------------- what stories show

#: Key figure -> its row's label in the key-figure cards.
KPI_LABELS = {column: label for column, label, *_ in KPIS}

#: Stories whose claim (stories.py) the page does not show under the current defaults, with
#: what it shows instead. Strict: once a claim shows again, its test fails until it is removed.
NOT_SHOWN: dict[str, str] = {}


def kpi_value(tab: Any, company: str, figure: str) -> float:
    """A company's key figure as its card on the page shows it (``77.1%`` -> 77.1)."""
    text = tab.evaluate(
        """([company, label]) => {
            for (const card of document.querySelectorAll('#kpis .cx-kpi')) {
                if (card.querySelector('h4').innerText.trim() !== company) { continue; }
                for (const row of card.querySelectorAll('tr')) {
                    const cells = row.querySelectorAll('td');
                    if (cells[0].innerText.trim() === label) {
                        return cells[cells.length - 1].innerText.trim();
                    }
                }
            }
            return null;
        }""",
        [company, KPI_LABELS[figure]],
    )
    assert text is not None, f"no {KPI_LABELS[figure]!r} for {company} on the page"
    return float(text.replace("%", "").replace(",", "").replace("+", ""))


def open_story(tab: Any, name: str) -> str:
    """Open a story from *What to try*; wait for its run at its opening size; the message."""
    story = catalogue()[name]
    size = story.opening
    compare = tab.locator("#compare-toggle input")
    if compare.is_checked():  # the story's own policies alone: one run, not two
        compare.uncheck()
    tab.evaluate("() => { document.querySelector('#try-panel').open = true; }")
    tab.locator(f'[id=\'{{"story":"{name}","type":"open-story"}}\']').click()
    expected = (
        f"{story.label}: {size['market.customers']:,} people for {size['market.days']:,} days"
    )
    tab.wait_for_function(
        """(expected) => {
            const m = document.querySelector('#message');
            return m && m.innerText.startsWith(expected) && m.innerText.includes('simulated in');
        }""",
        arg=expected,
        timeout=RUN_TIMEOUT_MS,
    )
    return tab.inner_text("#message")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=NOT_SHOWN[name])]
            if name in NOT_SHOWN
            else [],
        )
        for name, tip in TIPS.items()
        if tip.claim is not None
    ],
)
def test_each_story_opens_showing_what_it_says(page: Any, name: str) -> None:
    story = catalogue()[name]
    claim = story.claim
    assert claim is not None
    open_story(page, name)
    names = [c.name for c in story.params.companies]
    assert claim.words(names) in page.inner_text("#story-claim")  # the page says it in words
    ahead = kpi_value(page, names[claim.ahead], claim.figure)
    behind = kpi_value(page, names[claim.behind], claim.figure)
    assert ahead > behind, (
        f"{name}: {KPI_LABELS[claim.figure]} of {names[claim.ahead]} {ahead:g} is not above "
        f"{names[claim.behind]}'s {behind:g} ({claim.customers:,} people, {claim.days:,} days)"
    )
