"""Self-contained HTML reports of runs and comparisons (plotly, working offline).

A run's report shows, per company, the market share, the customers retained,
problems against complaints (the complaint iceberg), negative against positive
word of mouth, refunds and broken promises, cumulative profit and the net
promoter score. With replications each line is the mean over replications and
the shaded band holds the middle 95% of them (2.5th to 97.5th percentile).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cxsim.palette import company_colour, rgba

if TYPE_CHECKING:
    from cxsim.runner import Comparison, RunResult


#: At most this many points per line; longer runs are thinned evenly (the last day is kept).
MAX_POINTS = 1500

#: The charts: title, y-axis label, and the series drawn (metric, how, line dash, label).
#: "level" plots the value per day, "cumulative" its running total, "retained" the share
#: of day-0 customers still with the company.
CHARTS: tuple[tuple[str, str, tuple[tuple[str, str, str, str], ...]], ...] = (
    ("Market share", "share of served customers", (("market_share", "level", "solid", ""),)),
    ("Customers retained", "% of day-0 customers", (("retained", "retained", "solid", ""),)),
    (
        "Problems (solid) vs complaints (dotted): the iceberg",
        "cumulative count (log scale)",
        (
            ("problems", "cumulative", "solid", "problems"),
            ("complaints", "cumulative", "dot", "complaints"),
        ),
    ),
    (
        "Word of mouth: negative (solid) vs positive (dotted)",
        "cumulative listeners",
        (
            ("wom_negative", "cumulative", "solid", "negative"),
            ("wom_positive", "cumulative", "dot", "positive"),
        ),
    ),
    (
        "Refunds (solid) and broken promises (dotted)",
        "cumulative count",
        (
            ("refunds", "cumulative", "solid", "refunds"),
            ("broken_promises", "cumulative", "dot", "broken promises"),
        ),
    ),
    ("Profit", "cumulative profit", (("profit", "cumulative", "solid", ""),)),
    ("Net promoter score", "promoters − detractors (points)", (("nps", "level", "solid", ""),)),
)

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.header { background: #f6f6f4; border-left: 4px solid #0072B2; padding: .6rem 1rem;
          font-size: .92rem; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: right; }
th:first-child, td:first-child, .l { text-align: left; }
.muted { color: #666; font-size: .85rem; }
details pre { background: #f6f6f4; padding: .6rem; overflow-x: auto; font-size: .85rem; }
"""


def _series(
    frame: pd.DataFrame, company: str, metric: str, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Days and a (replications, days) array of ``metric`` for ``company``, transformed by ``how``."""
    rows = frame[frame["company"] == company]
    table = rows.pivot(index="replication", columns="day", values=metric).sort_index()
    values = table.to_numpy(dtype=np.float64)
    days = table.columns.to_numpy()
    if how == "cumulative":
        values = np.cumsum(values, axis=1)
    elif how == "retained":
        start = values[:, :1]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(start > 0, 100.0 * values / start, np.nan)
    return days, values


def _thin(n: int) -> np.ndarray:
    if n <= MAX_POINTS:
        return np.arange(n)
    idx = np.linspace(0, n - 1, MAX_POINTS).round().astype(int)
    return np.unique(idx)


def mean_over_replications(values: np.ndarray) -> np.ndarray:
    """Per day (column), the mean of the replications that have a value; NaN on a day none has.

    A figure can be undefined on a day in every replication (a ratio over no
    customers, in a market of three people): that day is a gap in the chart.
    """
    present = ~np.isnan(values)
    count = present.sum(axis=0)
    total = np.where(present, values, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0)


def band_over_replications(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per day, the 2.5th and 97.5th percentiles over replications; NaN on a day none has."""
    low = np.full(values.shape[1], np.nan)
    high = np.full(values.shape[1], np.nan)
    some = ~np.isnan(values).all(axis=0)
    if some.any():
        low[some], high[some] = np.nanpercentile(values[:, some], [2.5, 97.5], axis=0)
    return low, high


def run_figure(frame: pd.DataFrame, companies: list[str]) -> go.Figure:
    """The run's charts: one panel per entry of :data:`CHARTS`, one colour per company."""
    rows = math.ceil(len(CHARTS) / 2)
    fig = make_subplots(
        rows=rows,
        cols=2,
        subplot_titles=[title for title, _, _ in CHARTS],
        vertical_spacing=0.07,
        horizontal_spacing=0.08,
    )
    replications = frame["replication"].nunique()
    for i, (_, ylabel, series) in enumerate(CHARTS):
        row, col = i // 2 + 1, i % 2 + 1
        for j, company in enumerate(companies):
            colour = company_colour(j)
            for metric, how, dash, label in series:
                days, values = _series(frame, company, metric, how)
                keep = _thin(days.size)
                x = days[keep]
                mean = mean_over_replications(values[:, keep])
                name = f"{company} — {label}" if label else company
                if replications > 1:
                    low, high = band_over_replications(values[:, keep])
                    fig.add_trace(
                        go.Scatter(
                            x=x,
                            y=high,
                            mode="lines",
                            line={"width": 0},
                            hoverinfo="skip",
                            showlegend=False,
                            legendgroup=company,
                        ),
                        row=row,
                        col=col,
                    )
                    fig.add_trace(
                        go.Scatter(
                            x=x,
                            y=low,
                            mode="lines",
                            line={"width": 0},
                            fill="tonexty",
                            fillcolor=rgba(colour, 0.18),
                            hoverinfo="skip",
                            showlegend=False,
                            legendgroup=company,
                        ),
                        row=row,
                        col=col,
                    )
                fig.add_trace(
                    go.Scatter(
                        x=x,
                        y=mean,
                        mode="lines",
                        name=name,
                        line={"color": colour, "dash": dash, "width": 2},
                        legendgroup=company,
                        showlegend=i == 0,
                        hovertemplate=f"{html.escape(name)}<br>day %{{x}}: %{{y:.4g}}<extra></extra>",
                    ),
                    row=row,
                    col=col,
                )
        fig.update_yaxes(
            title_text=ylabel, type="log" if "log" in ylabel else "linear", row=row, col=col
        )
        fig.update_xaxes(title_text="day", row=row, col=col)
    fig.update_layout(
        height=380 * rows,
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"t": 80, "l": 60, "r": 20, "b": 40},
    )
    return fig


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _figure_cell(entry: dict[str, Any]) -> str:
    text = _fmt(entry["mean"])
    ci = entry.get("ci95")
    if ci and ci[0] is not None:
        text += f' <span class="muted">[{_fmt(ci[0])}, {_fmt(ci[1])}]</span>'
    return text


def _summary_table(summary: dict[str, Any]) -> str:
    companies = summary["companies"]
    figures = list(companies[0]["figures"]) if companies else []
    head = "".join(f"<th>{html.escape(c['name'])}</th>" for c in companies)
    body = []
    for figure in figures:
        meaning = html.escape(companies[0]["figures"][figure]["meaning"])
        cells = "".join(f"<td>{_figure_cell(c['figures'][figure])}</td>" for c in companies)
        body.append(
            f'<tr><td title="{meaning}">{html.escape(figure.replace("_", " "))}</td>{cells}</tr>'
        )
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(body)}</table>"


def _paragraphs(lines: list[str]) -> str:
    """Comment lines as HTML paragraphs: blank lines separate paragraphs."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "".join(f"<p>{html.escape(' '.join(p))}</p>" for p in paragraphs if p)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _provenance(summary: dict[str, Any]) -> str:
    prov = summary["provenance"]
    run = summary["run"]
    scenario = summary["scenario"]
    rows = [
        ("scenario file", scenario["file"]),
        ("sha256", scenario["sha256"]),
        ("overrides", ", ".join(f"{k}={v!r}" for k, v in scenario["overrides"].items()) or "none"),
        (
            "runs",
            f"seed {run['seed']}, replications {', '.join(map(str, run['replication_indices']))} "
            f"({run['random_streams']})",
        ),
        ("started (UTC)", prov["started"]),
        ("wall time", f"{prov['wall_seconds']:.1f} s"),
        (
            "versions",
            f"cxsim {prov['cxsim']}, Python {prov['python']}, NumPy {prov['numpy']}, "
            f"Mesa {prov['mesa']}, pandas {prov['pandas']}",
        ),
        ("platform", prov["platform"]),
    ]
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


def run_report(result: RunResult, frame: pd.DataFrame, summary: dict[str, Any]) -> str:
    """The HTML page of a run: header, summary table, charts and provenance (plotly.js embedded)."""
    scenario = result.scenario
    run = summary["run"]
    fig = run_figure(frame, result.companies)
    chart = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    reps = run["replications"]
    band = (
        f"Lines are means over {reps} replications; bands hold the middle 95% of replications."
        if reps > 1
        else "One replication."
    )
    table_note = (
        "Means over replications with 95% confidence intervals of the mean in brackets."
        if reps > 1
        else "One replication: no confidence intervals."
    )
    body = f"""
<h1>{html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description)}</p>
<p class="muted">{run["customers"]:,} people, {run["network"].replace("_", " ")} network,
{len(result.companies)} companies, {run["days"]:,} days, {reps} replication{"s" if reps != 1 else ""},
seed {run["seed"]}.</p>
<div class="header">{_paragraphs(scenario.header[1:])}</div>
<h2>Figures at the end</h2>
<p class="muted">{table_note}</p>
{_summary_table(summary)}
<h2>Over time</h2>
<p class="muted">{band}</p>
{chart}
<h2>Provenance</h2>
{_provenance(summary)}
<details><summary>Scenario file</summary><pre>{html.escape(scenario.text)}</pre></details>
"""
    return _page(f"cxsim: {scenario.name}", body)


def comparison_figure(table: pd.DataFrame) -> go.Figure:
    """Mean paired differences (B - A) with 95% intervals: one panel per figure, one bar per position."""
    figures = list(dict.fromkeys(table["figure"]))
    fig = make_subplots(
        rows=1, cols=len(figures), subplot_titles=[f.replace("_", " ") for f in figures]
    )
    for i, figure in enumerate(figures):
        rows = table[table["figure"] == figure]
        labels = [
            f"{a} → {b}" if a != b else a
            for a, b in zip(rows["company_a"], rows["company_b"], strict=True)
        ]
        diff = rows["difference"].to_numpy(dtype=np.float64)
        high = (rows["ci95_high"] - rows["difference"]).to_numpy(dtype=np.float64)
        low = (rows["difference"] - rows["ci95_low"]).to_numpy(dtype=np.float64)
        fig.add_trace(
            go.Bar(
                x=labels,
                y=diff,
                marker_color=[company_colour(p) for p in rows["position"]],
                error_y={
                    "type": "data",
                    "array": np.nan_to_num(high),
                    "arrayminus": np.nan_to_num(low),
                },
                showlegend=False,
                hovertemplate="%{x}<br>B − A = %{y:.4g}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.add_hline(y=0, line={"color": "#888", "width": 1}, row=1, col=i + 1)
    fig.update_layout(
        height=420, template="plotly_white", margin={"t": 60, "l": 50, "r": 20, "b": 80}
    )
    return fig


def comparison_report(comparison: Comparison) -> str:
    """The HTML page of a comparison: the paired-difference table and its chart."""
    a, b = comparison.a, comparison.b
    table = comparison.table
    head = '<tr><th>position</th><th class="l">figure</th><th>A</th><th>B</th><th>B − A</th><th>95% CI</th></tr>'
    rows = []
    for rec in table.to_dict("records"):
        company = (
            rec["company_a"]
            if rec["company_a"] == rec["company_b"]
            else f"{rec['company_a']} / {rec['company_b']}"
        )
        rows.append(
            f"<tr><td>{rec['position']}: {html.escape(company)}</td><td class='l'>{html.escape(rec['figure'])}</td>"
            f"<td>{_fmt(rec['mean_a'])}</td><td>{_fmt(rec['mean_b'])}</td><td>{_fmt(rec['difference'])}</td>"
            f"<td>[{_fmt(rec['ci95_low'])}, {_fmt(rec['ci95_high'])}]</td></tr>"
        )
    chart = comparison_figure(table).to_html(
        full_html=False, include_plotlyjs=True, config={"displaylogo": False}
    )
    reps = len(a.replications)
    body = f"""
<h1>{html.escape(b.scenario.name)} minus {html.escape(a.scenario.name)}</h1>
<p>A: <b>{html.escape(a.scenario.label)}</b> — {html.escape(a.scenario.description)}<br>
B: <b>{html.escape(b.scenario.label)}</b> — {html.escape(b.scenario.description)}</p>
<p class="muted">{reps} paired replications on common random numbers (replication r of both is run
(seed {a.base_seed}, r)). Differences are B minus A, per company position; the interval is the 95% paired-t
confidence interval of the mean difference.</p>
<table>{head}{"".join(rows)}</table>
{chart}
<p class="muted">A sha256 {a.scenario.sha256}<br>B sha256 {b.scenario.sha256}</p>
"""
    return _page(f"cxsim compare: {b.scenario.name} - {a.scenario.name}", body)
