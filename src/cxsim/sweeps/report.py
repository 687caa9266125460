"""``sweep_report.html``: one self-contained page (plotly.js embedded) for a sweep.

Sections: what was swept, and any warning (Sobol' samples too few to read the
indices); per metric, main-effect plots with 95% confidence bands, the paired
differences of each factor level from the reference level (replication by
replication: common random numbers), a heatmap over the plan's two heatmap
factors (default: the first two), Sobol' indices for a ``sobol`` design; the
plan's named comparisons; the kept daily series by the first factor's value;
failed runs. Every interval is cut to the range of what it bounds.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from cxsim.files import atomic_write_text
from cxsim.palette import company_colour, rgba
from cxsim.stats import group_mean_ci
from cxsim.summary import figure_range
from cxsim.sweeps.analyze import (
    SobolIndices,
    SweepResults,
    factor_levels,
    level_label,
    main_effects,
    two_factor_grid,
)

#: Most values of the first factor drawn as separate daily series.
MAX_DAILY_LEVELS = 6


def _colour(i: int, alpha: float = 1.0) -> str:
    """Company ``i``'s colour, as on every other page (:mod:`cxsim.palette`)."""
    colour = company_colour(i)
    return colour if alpha >= 1.0 else rgba(colour, alpha)


#: First-order and total Sobol' indices (not companies: greys).
INDEX_COLOURS = ("#4D4D4D", "#A6A6A6")


def _level_colour(j: int, levels: int, alpha: float = 1.0) -> str:
    """The colour of level ``j`` of ``levels`` of a factor (Viridis: an ordered scale, not a company)."""
    colour = sample_colorscale("Viridis", [j / max(levels - 1, 1)], colortype="rgb")[0]
    return colour if alpha >= 1.0 else colour.replace("rgb(", "rgba(").replace(")", f", {alpha})")


def _band(
    fig: go.Figure, x: list[Any], low: np.ndarray, high: np.ndarray, colour: str, **where: Any
) -> None:
    """A shaded 95% confidence band between ``low`` and ``high``."""
    fig.add_trace(
        go.Scatter(
            x=list(x) + list(x)[::-1],
            y=list(high) + list(low)[::-1],
            fill="toself",
            fillcolor=colour,
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
        ),
        **where,
    )


def main_effects_figure(results: SweepResults, metric: str) -> go.Figure:
    """One panel per factor: the metric's mean per factor value and company, with a 95% CI band."""
    keys = results.factor_keys
    effects = main_effects(results, metric)
    names = short_factor_names(keys)
    fig = make_subplots(
        rows=1, cols=len(keys), subplot_titles=[names[k] for k in keys], shared_yaxes=True
    )
    for col, key in enumerate(keys, start=1):
        part = effects[effects["factor"] == key]
        for k, company in enumerate(results.companies):
            rows = part[part["company"] == company].sort_values("position")
            if rows.empty:
                continue
            x = list(rows["label"])
            # One run at a value has no interval: the band closes on the mean there.
            low = rows["ci95_low"].fillna(rows["mean"]).to_numpy()
            high = rows["ci95_high"].fillna(rows["mean"]).to_numpy()
            _band(fig, x, low, high, _colour(k, 0.2), row=1, col=col)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=rows["mean"],
                    mode="lines+markers",
                    name=company,
                    legendgroup=company,
                    showlegend=col == 1,
                    line={"color": _colour(k)},
                    customdata=np.stack(
                        [rows["runs"], rows["ci95_low"], rows["ci95_high"]], axis=-1
                    ),
                    hovertemplate="%{x}: %{y:.4g} (95% CI %{customdata[1]:.4g} to "
                    "%{customdata[2]:.4g}; %{customdata[0]} runs)<extra>" + company + "</extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(type="category", row=1, col=col)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(
        title=f"Main effects on {metric} (mean over all runs at each value; band: 95% CI of "
        "that mean; bands can overlap where the paired differences below are clear)",
        height=380,
        margin={"t": 80},
    )
    return fig


def contrast_figure(
    results: SweepResults, contrasts: pd.DataFrame, metric: str
) -> go.Figure | None:
    """One panel per factor: each level's paired difference from the reference level, with its 95% CI."""
    part = contrasts[contrasts["metric"] == metric]
    if part.empty:
        return None
    keys = [k for k in results.factor_keys if k in set(part["factor"])]
    names = short_factor_names(results.factor_keys)
    titles = [
        f"{names[k]}: minus {part.loc[part['factor'] == k, 'reference'].iloc[0]}" for k in keys
    ]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=titles, shared_yaxes=True)
    for col, key in enumerate(keys, start=1):
        rows_of_factor = part[part["factor"] == key]
        for k, company in enumerate(results.companies):
            rows = rows_of_factor[rows_of_factor["company"] == company].sort_values("position")
            if rows.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=list(rows["label"]),
                    y=rows["difference"],
                    mode="markers",
                    name=company,
                    legendgroup=company,
                    showlegend=col == 1,
                    marker={"color": _colour(k), "size": 9},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": (rows["ci95_high"] - rows["difference"]).fillna(0),
                        "arrayminus": (rows["difference"] - rows["ci95_low"]).fillna(0),
                    },
                    customdata=np.stack(
                        [rows["replications"], rows["ci95_low"], rows["ci95_high"]], axis=-1
                    ),
                    hovertemplate="%{x}: %{y:+.4g} (95% CI %{customdata[1]:+.4g} to "
                    "%{customdata[2]:+.4g}; %{customdata[0]} replications)<extra>"
                    + company
                    + "</extra>",
                ),
                row=1,
                col=col,
            )
        fig.add_hline(y=0, line={"color": "#999999", "width": 1}, row=1, col=col)
        fig.update_xaxes(type="category", row=1, col=col)
    fig.update_yaxes(title_text=f"difference in {metric}", row=1, col=1)
    fig.update_layout(
        title=f"Paired differences in {metric} from each factor's first level (within each "
        "replication, which had the same luck at every point; bars: 95% CI over replications)",
        height=380,
        margin={"t": 80},
        scattermode="group",  # companies side by side at each level
    )
    return fig


def heatmap_figure(results: SweepResults, metric: str) -> go.Figure:
    """The metric's mean over the plan's two heatmap factors, one panel per company."""
    assert results.heatmap is not None
    key_a, key_b = results.heatmap
    names = short_factor_names(results.factor_keys)
    grid = two_factor_grid(results, metric, key_a, key_b)
    order_a = [level_label(v) for v in grid.attrs.get("order_a", [])]
    order_b = [level_label(v) for v in grid.attrs.get("order_b", [])]
    companies = results.companies
    fig = make_subplots(
        rows=1, cols=len(companies), subplot_titles=companies, horizontal_spacing=0.12
    )
    for k, company in enumerate(companies, start=1):
        part = grid[grid["company"] == company].copy()
        part["a"] = part["a"].map(level_label)
        part["b"] = part["b"].map(level_label)
        table = part.pivot_table(index="a", columns="b", values="mean").reindex(
            index=order_a, columns=order_b
        )
        fig.add_trace(
            go.Heatmap(
                z=table.to_numpy(),
                x=order_b,
                y=order_a,
                coloraxis="coloraxis",
                hovertemplate=f"{key_a}=%{{y}}<br>{key_b}=%{{x}}<br>{metric}=%{{z:.4g}}<extra>{company}</extra>",
            ),
            row=1,
            col=k,
        )
        fig.update_xaxes(title_text=names[key_b], type="category", row=1, col=k)
        fig.update_yaxes(title_text=names[key_a], type="category", row=1, col=k)
    fig.update_layout(
        title=f"{metric}: mean over {key_a} x {key_b}",
        coloraxis={"colorscale": "Viridis", "colorbar": {"title": {"text": metric}}},
        height=420,
    )
    return fig


def sobol_figure(
    indices: SobolIndices, metric: str, companies: list[str], readable: bool = True
) -> go.Figure | None:
    """First-order and total Sobol' indices of one metric per factor, one panel per company.

    ``readable``: whether the intervals are narrow enough to read (else the title says so).
    """
    part = indices.first_total[indices.first_total["metric"] == metric]
    if part.empty:
        return None
    names = short_factor_names(list(dict.fromkeys(part["factor"])))
    fig = make_subplots(rows=1, cols=len(companies), subplot_titles=companies, shared_yaxes=True)
    for k, company in enumerate(companies, start=1):
        rows = part[part["company"] == company]
        for j, (name, column) in enumerate((("first-order S1", "S1"), ("total ST", "ST"))):
            fig.add_trace(
                go.Bar(
                    x=rows["factor"].map(names),
                    y=rows[column],
                    error_y={"type": "data", "array": rows[f"{column}_conf"], "visible": True},
                    name=name,
                    legendgroup=name,
                    showlegend=k == 1,
                    marker_color=INDEX_COLOURS[j],
                ),
                row=1,
                col=k,
            )
    fig.update_layout(
        title=f"Sobol' indices of {metric} (error bars: 95% bootstrap interval)"
        + ("" if readable else ": too few samples to read, see the warning at the top"),
        barmode="group",
        height=400,
    )
    fig.update_yaxes(title_text="index", row=1, col=1)
    return fig


def daily_figure(results: SweepResults, daily: pd.DataFrame, metric: str) -> go.Figure | None:
    """Mean daily series of ``metric`` per value of the first factor, with 95% bands over runs."""
    if daily.empty:
        return None
    key = results.factor_keys[0]
    points = pd.read_parquet(results.out_dir / "points.parquet")[["point", key]]
    frame = daily.merge(points, on="point")
    levels, order = factor_levels(results, key, frame[key])
    if len(order) > MAX_DAILY_LEVELS:
        return None
    frame = frame.assign(level=levels.to_numpy())
    companies = results.companies
    fig = make_subplots(rows=1, cols=len(companies), subplot_titles=companies, shared_yaxes=True)
    for k, company in enumerate(companies, start=1):
        part = frame[frame["company"] == company]
        for j, level in enumerate(order):
            rows = part[part["level"] == level]
            if rows.empty:
                continue
            lower, upper = figure_range(metric)
            stats = group_mean_ci(rows.groupby("day")[metric], lower=lower, upper=upper)
            stats = stats.reset_index()
            low = stats["ci95_low"].fillna(stats["mean"]).to_numpy()
            high = stats["ci95_high"].fillna(stats["mean"]).to_numpy()
            _band(
                fig, list(stats["day"]), low, high, _level_colour(j, len(order), 0.2), row=1, col=k
            )
            fig.add_trace(
                go.Scatter(
                    x=stats["day"],
                    y=stats["mean"],
                    mode="lines",
                    name=f"{key} = {level_label(level)}",
                    legendgroup=str(j),
                    showlegend=k == 1,
                    line={"color": _level_colour(j, len(order))},
                ),
                row=1,
                col=k,
            )
        fig.update_xaxes(title_text="day", row=1, col=k)
    fig.update_yaxes(title_text=metric, row=1, col=1)
    fig.update_layout(title=f"Daily {metric} by {key} (band: 95% CI over runs)", height=400)
    return fig


def _number(value: float) -> str:
    """4 significant digits, without exponents for money-sized numbers."""
    if np.isfinite(value) and abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def wide_summary(summary: pd.DataFrame, results: SweepResults) -> pd.DataFrame:
    """One row per point and company, one ``mean [low, high]`` column per metric."""
    cell = summary.assign(
        text=[
            f"{_number(m)} [{_number(lo)}, {_number(hi)}]" if np.isfinite(lo) else _number(m)
            for m, lo, hi in zip(
                summary["mean"], summary["ci95_low"], summary["ci95_high"], strict=True
            )
        ]
    )
    keys = ["point", *results.factor_keys, "company"]
    wide = cell.pivot(index=keys, columns="metric", values="text")
    wide = wide[[m for m in results.metrics if m in wide.columns]].reset_index()
    for key in results.factor_keys:
        wide[key] = wide[key].map(level_label)
    wide.columns.name = None
    company_order = {c: i for i, c in enumerate(results.companies)}
    wide = wide.sort_values(
        ["point", "company"], key=lambda s: s.map(company_order) if s.name == "company" else s
    )
    return wide.rename(columns=short_factor_names(results.factor_keys))


def short_factor_names(keys: list[str]) -> dict[str, str]:
    """Column headers for factors: the last part of each key where that is unambiguous."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {k: s if last.count(s) == 1 else k for k, s in zip(keys, last, strict=True)}


def _table_html(frame: pd.DataFrame, max_rows: int = 50) -> str:
    return frame.head(max_rows).to_html(
        index=False, border=0, classes="table", float_format=lambda v: f"{v:.4g}"
    )


def _signed(value: float) -> str:
    return "+" + _number(value) if np.isfinite(value) and value > 0 else _number(value)


def contrast_table(table: pd.DataFrame, keys: list[str], metrics: list[str]) -> pd.DataFrame:
    """One row per ``keys`` and company, one ``difference [low, high]`` column per metric."""
    cell = table.assign(
        text=[
            f"{_signed(d)} [{_signed(lo)}, {_signed(hi)}]" if np.isfinite(lo) else _signed(d)
            for d, lo, hi in zip(
                table["difference"], table["ci95_low"], table["ci95_high"], strict=True
            )
        ]
    )
    wide = cell.pivot_table(
        index=[*keys, "company"], columns="metric", values="text", aggfunc="first", sort=False
    )
    wide = wide[[m for m in metrics if m in wide.columns]].reset_index()
    wide.columns.name = None
    return wide


def _header(results: SweepResults, warnings: list[str]) -> list[str]:
    """The page's head, the sweep's description and the warnings."""
    record = results.record
    factors = pd.DataFrame(
        [
            {
                "factor": f["key"],
                "values": ", ".join(level_label(v) for v in f["levels"])
                if "range" not in f
                else f"{f['scale']} range {f['range'][0]:g} to {f['range'][1]:g}"
                + (f", {f['levels']} levels" if f.get("levels") else ""),
            }
            for f in results.factors
        ]
    )
    ok_runs = int(results.ok["run_id"].nunique())
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Sweep {html.escape(record['name'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px}"
        ".table{border-collapse:collapse}.table td,.table th{padding:2px 8px;"
        "border-bottom:1px solid #ddd;white-space:nowrap;text-align:left}"
        ".warning{background:#FFF4E0;border-left:4px solid #E69F00;padding:0.5em 1em}"
        "</style></head><body>",
        f"<h1>Sweep: {html.escape(record['name'])}</h1>",
        f"<p>{html.escape(record.get('description') or '')}</p>",
        "<p>"
        f"Design <b>{html.escape(record['design'])}</b>, {record['points']} points x "
        f"{record['replications']} replications = {results.planned} runs; "
        f"<b>{ok_runs}</b> finished, <b>{len(results.failed)}</b> failed, "
        f"{results.planned - results.recorded} not yet run. Root seed {record['seed']}; replication r "
        "uses the same seed at every point (common random numbers), so differences between "
        "points are taken within each replication (paired differences). Plan hash "
        f"<code>{record['plan_hash'][:12]}</code>.</p>",
        _table_html(factors),
    ]
    overrides = record.get("overrides") or {}
    if overrides:
        held = ", ".join(f"{k} = {level_label(v)}" for k, v in overrides.items())
        parts.append(f"<p>Held at every point (cxsim sweep --set): {html.escape(held)}.</p>")
    parts += [f"<p class='warning'>Warning: {html.escape(w)}.</p>" for w in warnings]
    return parts


def _comparisons_html(results: SweepResults, comparisons: pd.DataFrame | None) -> list[str]:
    if comparisons is None or comparisons.empty:
        return []
    table = contrast_table(comparisons, ["comparison", "b", "a"], results.metrics)
    return [
        "<h2>Named comparisons (B - A, paired by replication; 95% CI)</h2>",
        "<p>Each comparison of the plan: the runs at B's factor values minus those at A's, "
        "replication by replication (the same luck in both), averaged over the factors it "
        "does not name; all rows in comparisons.csv.</p>",
        _table_html(table, 60),
    ]


def write_report(
    results: SweepResults,
    summary: pd.DataFrame,
    sobol: SobolIndices | None,
    daily: pd.DataFrame | None,
    path: Path,
    *,
    contrasts: pd.DataFrame | None = None,
    comparisons: pd.DataFrame | None = None,
    sobol_readable: dict[str, bool] | None = None,
    warnings: list[str] | tuple[str, ...] = (),
) -> Path:
    """Write the sweep report to ``path`` atomically (self-contained: plotly.js is embedded once).

    Args:
        results: the sweep's runs.
        summary: :func:`cxsim.sweeps.analyze.point_summary`.
        sobol: the Sobol' indices of a ``sobol`` design.
        daily: the kept daily series.
        path: where to write.
        contrasts: :func:`cxsim.sweeps.analyze.level_contrasts`.
        comparisons: :func:`cxsim.sweeps.analyze.named_comparisons`.
        sobol_readable: metric -> whether its indices are narrow enough to read.
        warnings: lines shown at the top of the page.

    """
    figures: list[tuple[str, go.Figure | None]] = []
    for metric in results.metrics:
        figures.append((f"<h2>{html.escape(metric)}</h2>", main_effects_figure(results, metric)))
        if contrasts is not None:
            figures.append(("", contrast_figure(results, contrasts, metric)))
        if results.heatmap is not None:
            figures.append(("", heatmap_figure(results, metric)))
        if sobol is not None:
            readable = (sobol_readable or {}).get(metric, True)
            figures.append(("", sobol_figure(sobol, metric, results.companies, readable)))
    if daily is not None:
        for metric in results.record["daily_metrics"]:
            fig = daily_figure(results, daily, metric)
            if fig is not None:
                figures.append((f"<h2>Daily {html.escape(metric)}</h2>", fig))
    parts = _header(results, list(warnings))
    if sobol is not None and sobol.skipped:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in sobol.skipped)
        parts.append(f"<p>Sobol' indices not computed for:</p><ul>{items}</ul>")
    first = True
    for heading, fig in figures:
        if heading:
            parts.append(heading)
        if isinstance(fig, go.Figure):
            parts.append(fig.to_html(include_plotlyjs=first, full_html=False))
            first = False
    parts += _comparisons_html(results, comparisons)
    failed = results.failed
    if not failed.empty:
        parts.append("<h2>Failed runs</h2>")
        parts.append(_table_html(failed[["run_id", "point", "replication", "seed", "error"]]))
    if not summary.empty:
        parts.append("<h2>Mean and 95% CI per point (first rows; all in summary.csv)</h2>")
        parts.append(_table_html(wide_summary(summary, results), 60))
    parts.append("</body></html>")
    atomic_write_text(path, "\n".join(parts), durable=False)
    return path
