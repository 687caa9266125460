"""What the page lets a student take away: its settings as a scenario file, its run as a CSV.

Both are made by the code every other path uses, never by a writer of the page's own:

* the settings are the validated parameters of the page's run (the controls
  resolved through :func:`cxsim.params.resolve` by
  :func:`cxsim.dashboard.controls.build_params`), written by
  :func:`cxsim.scaffold.scenario_text`, the writer of ``cxsim new``: every
  field, grouped, with its meaning. ``cxsim run`` on the file runs the page's
  market, seed included, and gives the page's numbers (a test checks it);
* the results are the run's tidy daily frame written by
  :func:`cxsim.runner.timeseries_csv`, the writer of ``cxsim run``'s
  ``timeseries.csv``, with replication 0 (the page runs replication 0 of its seed).

The PNG of the page is drawn in the browser (see :data:`PAGE_PNG_JS`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cxsim import runner, scaffold, scenario
from cxsim.dashboard.simulation import Run
from cxsim.dashboard.stories import Story
from cxsim.params import ModelParams

#: What wrote an exported scenario file (its header says so).
MADE_BY = "the cxsim dashboard (Download: settings as a scenario file)"


def fingerprint(run_key: str) -> str:
    """Six hex digits naming a run's settings (the page shows them as ``settings #...``)."""
    return hashlib.sha1(run_key.encode("utf-8")).hexdigest()[:6]


def file_stem(story: Story, run_key: str) -> str:
    """The name of a run's downloads: the story and the settings, ``manage_vs_fix-1a2b3c``."""
    return f"{story.name}-{fingerprint(run_key)}"


def scenario_file(story: Story, params: ModelParams, stem: str) -> str:
    """The page's settings as a scenario file that ``cxsim run`` runs unchanged.

    Raises:
        cxsim.scenario.ScenarioError: the text written does not load back (a bug).

    """
    m = params.market
    text = scaffold.scenario_text(
        params,
        name=stem,
        story=story.name,
        story_header=list(story.header),
        made_by=MADE_BY,
        title=(
            f"the story {story.name} as set on the dashboard: {m.customers:,} people for "
            f"{m.days:,} days, seed {m.seed}."
        ),
    )
    # What is offered must load, and load as the page's own parameters.
    loaded = scenario.from_text(text, Path(f"{stem}.toml"), check_network_file=False)
    if loaded.params != params:
        raise scenario.ScenarioError(f"{stem}.toml: does not load back as the page's settings")
    return text


def timeseries_file(run: Run) -> str:
    """The run's tidy daily results, as ``cxsim run`` writes them to ``timeseries.csv``."""
    text = runner.timeseries_csv(runner.tidy_frame(run.frame, replication=0))
    assert text is not None
    return text


def download(content: str, filename: str, mime: str) -> dict[str, Any]:
    """What ``dcc.Download`` takes to save ``content`` as ``filename``."""
    return {"content": content, "filename": filename, "type": mime, "base64": False}


#: Draws the page's main area (message, key figures, charts, network) into one PNG and saves
#: it. Plotly's own toImage draws each chart, offline (plotly.js is served by the page); the
#: cards and their text are drawn around them on a canvas at their places on the page.
PAGE_PNG_JS = """
function(clicks, stem) {
    const dc = window.dash_clientside;
    if (!clicks) { return dc.no_update; }
    const say = (text) => dc.set_props('export-status', {children: text});
    const main = document.querySelector('.cx-main');
    if (!main || !window.Plotly) { return 'The page is not drawn yet; try again in a moment.'; }
    const name = (stem || 'cxsim') + '-page.png';
    const visible = (el) => el.offsetParent !== null && el.getClientRects().length > 0;
    const wrap = (g, text, width) => {
        const lines = [];
        for (const para of String(text).split('\\n')) {
            let line = '';
            for (const word of para.split(' ')) {
                const next = line ? line + ' ' + word : word;
                if (line && g.measureText(next).width > width) { lines.push(line); line = word; }
                else { line = next; }
            }
            lines.push(line);
        }
        return lines;
    };
    (async () => {
        try {
            const box = main.getBoundingClientRect();
            const s = 2;
            const canvas = document.createElement('canvas');
            canvas.width = Math.ceil(box.width * s);
            canvas.height = Math.ceil(box.height * s);
            const g = canvas.getContext('2d');
            g.scale(s, s);
            g.fillStyle = '#F4F6F8';
            g.fillRect(0, 0, box.width, box.height);
            const at = (el) => {
                const r = el.getBoundingClientRect();
                return {x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height};
            };
            for (const el of main.querySelectorAll('.cx-card, .cx-kpi, .cx-message')) {
                if (!visible(el)) { continue; }
                const r = at(el), css = getComputedStyle(el);
                g.fillStyle = css.backgroundColor;
                g.fillRect(r.x, r.y, r.w, r.h);
                g.strokeStyle = css.borderLeftColor;
                g.lineWidth = 1;
                g.strokeRect(r.x, r.y, r.w, r.h);
                const band = parseFloat(css.borderTopWidth) || 0;  // a key-figure card's colour
                if (band > 1) {
                    g.fillStyle = css.borderTopColor;
                    g.fillRect(r.x, r.y, r.w, band);
                }
            }
            const texts = main.querySelectorAll(
                '.cx-message, summary, h3, h4, td, .cx-day, #network-tally');
            for (const el of texts) {
                if (!visible(el) || !el.innerText.trim()) { continue; }
                const r = at(el), css = getComputedStyle(el);
                g.font = `${css.fontWeight} ${css.fontSize} ${css.fontFamily}`;
                g.fillStyle = css.color;
                g.textBaseline = 'top';
                const pad = parseFloat(css.paddingLeft) || 0, top = parseFloat(css.paddingTop) || 0;
                const size = parseFloat(css.fontSize) * 1.3;
                const align = css.textAlign === 'right' ? 'right' : 'left';
                g.textAlign = align;
                const x = align === 'right' ? r.x + r.w - (parseFloat(css.paddingRight) || 0) : r.x + pad;
                wrap(g, el.innerText.trim(), Math.max(20, r.w - 2 * pad)).forEach((line, i) => {
                    g.fillText(line, x, r.y + top + i * size);
                });
            }
            g.textAlign = 'left';
            for (const gd of main.querySelectorAll('.js-plotly-plot')) {
                if (!visible(gd)) { continue; }
                const r = at(gd);
                const url = await window.Plotly.toImage(
                    gd, {format: 'png', width: Math.round(r.w), height: Math.round(r.h), scale: s});
                const img = new Image();
                await new Promise((ok, fail) => { img.onload = ok; img.onerror = fail; img.src = url; });
                g.drawImage(img, r.x, r.y, r.w, r.h);
            }
            const link = document.createElement('a');
            link.href = canvas.toDataURL('image/png');
            link.download = name;
            document.body.appendChild(link);
            link.click();
            link.remove();
            say(`Saved the page as ${name}.`);
        } catch (err) {
            say(`Could not draw the page: ${err}.`);
        }
    })();
    return 'Drawing the page ...';
}
"""
