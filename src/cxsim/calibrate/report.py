"""``calibration_report.html``: one self-contained page (plotly.js embedded) for a calibration.

Sections: what was fitted to what; the fitted values and the spread of good
fits; the fit per target before (at the starting values) and after; the
optimisation history; parameter importance (Optuna's fANOVA); the objective
against each parameter; the confirmation on fresh replications; failed
trials; the calibration file.
"""

from __future__ import annotations

import functools
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.io as pio

from cxsim.calibrate.likelihood import LEVEL
from cxsim.calibrate.spec import describe_variant
from cxsim.files import atomic_write_text
from cxsim.palette import BAD, GOOD, NEUTRAL, company_colour, rgba

if TYPE_CHECKING:
    from cxsim.calibrate.outputs import CalibrationResult
    from cxsim.calibrate.spec import Calibration

BEST = company_colour(1)  # blue
START = NEUTRAL
OBSERVED = "#000000"

CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px;line-height:1.4}"
    ".table{border-collapse:collapse;margin:0.5em 0}"
    ".table td,.table th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
    ".table td:first-child,.table th:first-child{text-align:left}"
    "pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:85%}.muted{color:#777}"
)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, bool | str):
        return html.escape(str(x))
    x = float(x)
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f'<table class="table"><tr>{head}</tr>{body}</table>'


Figure = dict[str, Any]


@functools.cache
def _template() -> dict[str, Any]:
    """Plotly's white template, resolved once (figures are plain dicts, not validated objects)."""
    import plotly.io as pio

    return pio.templates["plotly_white"].to_plotly_json()


def _figure(data: list[dict[str, Any]], **layout: Any) -> Figure:
    return {"data": data, "layout": {"template": _template(), **layout}}


def _panels(count: int, titles: list[str], *, across: bool) -> dict[str, Any]:
    """Axes for ``count`` panels stacked down (or side by side ``across``), with their titles."""
    gap = 0.08 if count > 1 else 0.0
    size = (1.0 - gap * (count - 1)) / count
    layout: dict[str, Any] = {"annotations": []}
    for i in range(count):
        start = i * (size + gap)
        low, high = (start, start + size) if across else (1.0 - start - size, 1.0 - start)
        x, y = ("xaxis", "yaxis") if i == 0 else (f"xaxis{i + 1}", f"yaxis{i + 1}")
        anchor = "" if i == 0 else str(i + 1)
        if across:
            layout[x] = {"domain": [low, high], "anchor": f"y{anchor}"}
            layout[y] = {"anchor": f"x{anchor}", **({} if i == 0 else {"matches": "y"})}
            layout[y]["showticklabels"] = i == 0
        else:
            layout[x] = {"anchor": f"y{anchor}"}
            layout[y] = {"domain": [low, high], "anchor": f"x{anchor}"}
        layout["annotations"].append(
            {
                "text": titles[i],
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": (low + high) / 2 if across else 0.5,
                "y": 1.0 if across else high,
                "xanchor": "center",
                "yanchor": "bottom",
            }
        )
    return layout


def _on(panel: int) -> dict[str, str]:
    """The axes of panel ``panel`` (0-based), for a trace."""
    suffix = "" if panel == 0 else str(panel + 1)
    return {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def fit_figure(fit: pd.DataFrame, confirm: pd.DataFrame | None) -> Figure:
    """One panel per target: observed (or its band), simulated at the start and at the best, with 95% CIs."""
    targets = list(dict.fromkeys(fit["target"]))
    data: list[dict[str, Any]] = []
    for panel, name in enumerate(targets):
        part = fit[fit["target"] == name]
        cells = [c if c else m for c, m in zip(part["cell"], part["measure"], strict=True)]
        common = {"type": "scatter", "showlegend": panel == 0, **_on(panel)}
        if part["likelihood"].iloc[0] == "band":
            for x, low, high in zip(cells, part["low"], part["high"], strict=True):
                data.append(
                    {
                        **common,
                        "x": [x, x],
                        "y": [low, high],
                        "mode": "lines",
                        "line": {"color": OBSERVED, "width": 10},
                        "opacity": 0.25,
                        "name": "observed band",
                        "legendgroup": "obs",
                    }
                )
                common["showlegend"] = False
        else:
            data.append(
                {
                    **common,
                    "x": cells,
                    "y": part["observed"].tolist(),
                    "mode": "markers",
                    "name": "observed",
                    "legendgroup": "obs",
                    "marker": {"color": OBSERVED, "symbol": "diamond", "size": 11},
                }
            )
        common["showlegend"] = panel == 0
        data.append(
            {
                **common,
                "x": cells,
                "y": part["start_simulated"].tolist(),
                "mode": "markers",
                "name": "start",
                "legendgroup": "start",
                "marker": {"color": START, "size": 9},
            }
        )
        series = [("best (fit replications)", part, BEST, "best")]
        if confirm is not None:
            series.append(
                ("best (fresh replications)", confirm[confirm["target"] == name], GOOD, "confirm")
            )
        for label, frame, colour, group in series:
            sim = frame["simulated"].to_numpy()
            data.append(
                {
                    **common,
                    "x": cells,
                    "y": sim.tolist(),
                    "mode": "markers",
                    "name": label,
                    "legendgroup": group,
                    "marker": {"color": colour, "size": 9},
                    "error_y": {
                        "type": "data",
                        "symmetric": False,
                        "array": (frame["ci95_high"].to_numpy() - sim).tolist(),
                        "arrayminus": (sim - frame["ci95_low"].to_numpy()).tolist(),
                    },
                }
            )
    return _figure(
        data,
        height=max(320, 260 * len(targets)),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        margin={"t": 80, "l": 60, "r": 20, "b": 40},
        **_panels(len(targets), targets, across=False),
    )


def history_figure(trials: pd.DataFrame, level: float) -> Figure:
    """The objective of every trial (log scale), the best so far, and the level of good fits."""
    done = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    best = done["objective"].cummin()
    x = done["trial"].tolist()
    data = [
        {
            "type": "scatter",
            "x": x,
            "y": done["objective"].tolist(),
            "mode": "markers",
            "name": "trial",
            "marker": {"color": np.where(done["good"], GOOD, START).tolist(), "size": 6},
            "text": [f"{p}, batch {b}" for p, b in zip(done["phase"], done["batch"], strict=True)],
        },
        {
            "type": "scatter",
            "x": x,
            "y": best.tolist(),
            "mode": "lines",
            "name": "best so far",
            "line": {"color": BEST},
        },
        {
            "type": "scatter",
            "x": x,
            "y": [level] * len(x),
            "mode": "lines",
            "name": "reference + margin (good fits below)",
            "line": {"color": GOOD, "dash": "dot"},
        },
    ]
    failed = trials[trials["state"] == "FAIL"]
    if not failed.empty:
        top = float(done["objective"].max()) if not done.empty else 1.0
        data.append(
            {
                "type": "scatter",
                "x": failed["trial"].tolist(),
                "y": [top] * len(failed),
                "mode": "markers",
                "name": "failed",
                "marker": {"color": BAD, "symbol": "x", "size": 8},
            }
        )
    return _figure(
        data,
        height=420,
        xaxis={"title": {"text": "trial"}},
        yaxis={"title": {"text": "objective"}, "type": "log"},
        margin={"t": 30, "l": 60, "r": 20, "b": 40},
    )


def importance(study: Any, seed: int) -> tuple[pd.Series | None, str]:
    """Parameter importances by Optuna's fANOVA, or why they could not be computed."""
    import optuna

    try:
        # 32 trees of depth at most 16: half Optuna's default forest, a quarter of its time.
        evaluator = optuna.importance.FanovaImportanceEvaluator(n_trees=32, max_depth=16, seed=seed)
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as err:
        return None, f"not computed: {err}"
    return pd.Series(found, dtype=float), ""


def importance_figure(importances: pd.Series) -> Figure:
    """Horizontal bars: each parameter's share of the objective's variance (fANOVA)."""
    ordered = importances.sort_values()
    bars = {
        "type": "bar",
        "x": ordered.tolist(),
        "y": list(ordered.index),
        "orientation": "h",
        "marker": {"color": BEST},
    }
    return _figure(
        [bars],
        height=120 + 40 * len(ordered),
        xaxis={"title": {"text": "importance"}},
        margin={"t": 20, "l": 300, "r": 20, "b": 40},
    )


def landscape_figure(calibration: Calibration, trials: pd.DataFrame) -> Figure:
    """Per parameter: the objective of every trial against its value; good fits in green."""
    keys = [p.key for p in calibration.parameters]
    done = trials[trials["state"] == "COMPLETE"]
    colours = np.where(done["good"], GOOD, rgba(START, 0.6)).tolist()
    data = [
        {
            "type": "scatter",
            "x": done[p.key].tolist(),
            "y": done["objective"].tolist(),
            "mode": "markers",
            "showlegend": False,
            "marker": {"color": colours, "size": 6},
            **_on(i),
        }
        for i, p in enumerate(calibration.parameters)
    ]
    layout = _panels(len(keys), keys, across=True)
    for i, p in enumerate(calibration.parameters):
        x = "xaxis" if i == 0 else f"xaxis{i + 1}"
        layout[x].update(range=_axis_range(p.low, p.high, p.log), type="log" if p.log else "linear")
    for i in range(len(keys)):
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"]["type"] = "log"
    layout["yaxis"]["title"] = {"text": "objective"}
    return _figure(data, height=380, margin={"t": 40, "l": 60, "r": 20, "b": 40}, **layout)


def _axis_range(low: float, high: float, log: bool) -> list[float]:
    return [math.log10(low), math.log10(high)] if log else [low, high]


def _fit_columns(fit: pd.DataFrame, before: bool) -> pd.DataFrame:
    columns = {
        "target": "target",
        "cell": "cell",
        "likelihood": "likelihood",
        "observed": "observed",
        "low": "band low",
        "high": "band high",
        "n": "n",
        "effective_n": "effective n",
        "sd": "sd",
        "weight": "weight",
    }
    if before:
        columns.update({"start_simulated": "start", "start_contribution": "start: deviance"})
    columns.update(
        {
            "simulated": "simulated",
            "ci95_low": "95% CI low",
            "ci95_high": "95% CI high",
            "simulated_cases": "simulated cases",
            "contribution": "deviance",
        }
    )
    frame = fit[[c for c in columns if c in fit.columns]].rename(columns=columns)
    return frame.loc[:, frame.notna().any(axis=0) | frame.columns.isin(["target", "cell"])]


def _header(calibration: Calibration, result: CalibrationResult, trials: pd.DataFrame) -> str:
    states = trials["state"].value_counts()
    start = trials[trials["start"]]
    start_value = float(start["objective"].iloc[0]) if len(start) else float("nan")
    spec = calibration.spec
    return (
        f"<h1>Calibration: {html.escape(calibration.name)}</h1>"
        f"<p>{html.escape(spec.description)}</p>"
        f"<p>{len(calibration.parameters)} parameters fitted to {len(calibration.targets)} targets "
        f"({sum(len(t.cells) for t in calibration.targets)} observed cells) in "
        f"{len(calibration.variants)} variant(s) of the base scenario. "
        f"<b>{int(states.get('COMPLETE', 0))}</b> trials finished, "
        f"<b>{int(states.get('FAIL', 0))}</b> failed; sampler <b>{spec.sampler}</b> seeded "
        f"{calibration.seed}, asked in batches of {spec.batch_size}. Each trial ran "
        f"{spec.replications} replication(s) per variant, runs (seed {calibration.seed}, r) for "
        f"r = 0..{spec.replications - 1}: the same for every trial (common random numbers).</p>"
        f"<p>Objective (a weighted sum of deviances; 0 is a perfect fit): "
        f"<b>{_fmt(result.best_value)}</b> at the best trial ({result.best_trial}), "
        f"{_fmt(start_value)} at the starting values.</p>" + _phases(trials) + _targets(calibration)
    )


#: What each phase of a study does, for the report.
PHASES = {
    "search": "the sampler looks for the best",
    "refine": "a local CMA-ES from the search's best trials takes the search further",
    "spread": "trials map the region of good fits",
}


def _phases(trials: pd.DataFrame) -> str:
    """Per phase: what it does, its trials and the best objective among them."""
    rows = []
    for phase, what in PHASES.items():
        asked = trials[trials["phase"] == phase]
        if asked.empty:
            continue
        done = asked.loc[asked["state"] == "COMPLETE", "objective"]
        rows.append(
            {
                "phase": phase,
                "what it does": what,
                "trials": len(asked),
                "best objective among them": float(done.min()) if len(done) else math.nan,
            }
        )
    return "<h2>Phases</h2>" + _table(pd.DataFrame(rows)) if rows else ""


def _targets(calibration: Calibration) -> str:
    """What each target measures, in which variant, with which likelihood, and its source."""
    rows = [
        {
            "target": t.name,
            "measure": t.measurement.name
            + (f"({', '.join(f'{k}={v!r}' for k, v in t.args.items())})" if t.args else ""),
            "variant": describe_variant(calibration.variants[t.variant]),
            "likelihood": t.likelihood.kind
            + (
                f", overdispersion {t.likelihood.overdispersion:g}"
                if t.likelihood.overdispersion
                else ""
            ),
            "weight": t.weight,
            "source": t.note,
        }
        for t in calibration.targets
    ]
    return _table(pd.DataFrame(rows))


def _spread_section(result: CalibrationResult) -> str:
    margin = result.margin
    good = int(result.trials["good"].sum())
    spread = result.spread.rename(
        columns={
            "parameter": "parameter",
            "bound_low": "bound low",
            "bound_high": "bound high",
            "start": "start",
            "best": "best",
            "good_low": "good fits: low",
            "good_high": "good fits: high",
            "share_of_range": "share of the bounds",
            "last_half_added": "added by the last half of the spread",
        }
    ).drop(columns=["good_trials"])
    return (
        "<h2>Fitted values and the spread of good fits</h2>"
        f"<p>Good fits are the <b>{good}</b> trials whose objective lies within "
        f"<b>{html.escape(margin.describe())}</b> of <b>{html.escape(margin.describe_reference())}"
        "</b>. The objective is a deviance, so "
        f"these form an approximate {LEVEL:.0%} likelihood-ratio region for the "
        f"{margin.parameters} fitted parameter(s); trials share their random numbers, so the "
        "simulation noise shifts them much alike, as noise in the observations would, and "
        "widens the region by the factor 1 + r. The part of it that differs from trial to trial "
        "puts the least of many trials below the objective's surface, hence the reference "
        "level where enough trials lie near the best. The range of the good fits is a sample of that "
        "region: more trials fill it in. The last column is the share of each range that the "
        "good fits among the last half of the spread trials added: where it is large, the "
        "region was still being found when the trials ended, and more spread trials "
        "(<code>spread_trials</code>) would widen the range.</p>" + _table(spread)
    )


def write_report(
    calibration: Calibration,
    study: Any,
    result: CalibrationResult,
    path: Path,
    plotly_js: str = "inline",
) -> Path:
    """Write the report to ``path``.

    ``plotly_js`` "inline" (default) embeds plotly.js once, so the page works offline;
    "cdn" makes a small page that loads it from the internet when opened.
    """
    trials = result.trials
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Calibration {html.escape(calibration.name)}</title><style>{CSS}</style>",
        "</head><body>",
        _header(calibration, result, trials),
        _spread_section(result),
        "<h2>Fit per target: before (start) and after (best)</h2>",
        "<p>Simulated: the mean over the fit's replications with its 95% confidence interval "
        "(cut to [0, 1] for shares). n is the stated sample size; for a beta-binomial "
        "likelihood the effective n is n / (1 + (n - 1) ρ). Deviance is the cell's weighted "
        "part of the objective.</p>",
        _table(_fit_columns(result.fit, before=True)),
    ]
    figures: list[tuple[str, Figure]] = [("", fit_figure(result.fit, result.confirm))]
    if result.confirm is not None:
        fresh = result.confirm["contribution"].sum()
        parts_confirm = (
            "<h2>Confirmation on fresh replications</h2>"
            "<p>The best values rerun on replications the fit never used; objective "
            f"<b>{_fmt(float(fresh))}</b> there, against {_fmt(result.best_value)} on the "
            "fit's replications.</p>" + _table(_fit_columns(result.confirm, before=False))
        )
    else:
        parts_confirm = ""
    figures.append(("<h2>Optimisation history</h2>", history_figure(trials, result.margin.level)))
    importances, why = importance(study, calibration.seed)
    if importances is not None:
        figures.append(
            (
                "<h2>Parameter importance (fANOVA)</h2><p>Each parameter's share of the variance "
                "of the objective over the trials (Optuna's fANOVA: a random forest of 32 trees "
                "fitted to the finished trials).</p>",
                importance_figure(importances),
            )
        )
    else:
        parts.append(f"<h2>Parameter importance (fANOVA)</h2><p>{html.escape(why)}</p>")
    figures.append(
        ("<h2>The objective against each parameter</h2>", landscape_figure(calibration, trials))
    )
    first = True
    for heading, fig in figures:
        parts.append(heading)
        parts.append(
            pio.to_html(
                fig,
                include_plotlyjs=(first and "cdn") if plotly_js == "cdn" else first,
                full_html=False,
                validate=False,
                config={"displaylogo": False},
            )
        )
        first = False
        if heading == "" and parts_confirm:
            parts.append(parts_confirm)
    failed = trials[trials["state"] == "FAIL"]
    if not failed.empty:
        keys = [p.key for p in calibration.parameters]
        parts.append("<h2>Failed trials</h2>")
        parts.append(_table(failed[["trial", *keys, "error"]].head(50)))
    parts.append("<h2>The calibration file</h2>")
    parts.append(f"<pre>{html.escape(calibration.text or '(given as a dict)')}</pre>")
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts))
    return path
