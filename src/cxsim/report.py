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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cxsim.palette import company_colour, rgba

if TYPE_CHECKING:
    from cxsim.runner import Comparison, RunResult


#: At most this many points per line; longer runs are thinned evenly (the last day is kept).
MAX_POINTS = 1500

#: How the report names money: once on the page, and on every money axis and table row.
MONEY = "$"
MONEY_NOTE = (
    "Money is in dollars ($), the unit of the scenario's prices and costs; shares are "
    "percentages, in the table and on the charts."
)


@dataclass(frozen=True)
class Series:
    """One line of a chart: a metric, how it is transformed, its dash and its label.

    ``how`` is ``level`` (the value per day), ``percent`` (the value per day, a share shown
    as a percentage), ``cumulative`` (its running total) or ``retained`` (the percentage of
    the company's day-0 customers still with it).
    """

    metric: str
    how: str
    dash: str = "solid"
    label: str = ""


@dataclass(frozen=True)
class Chart:
    """One panel of a run's charts: its name (for :func:`cxsim.plot.chart`), title, y axis, lines."""

    name: str
    title: str
    ylabel: str
    series: tuple[Series, ...]
    log: bool = False


#: The run's charts, in the order of the report's panels.
CHARTS: tuple[Chart, ...] = (
    Chart(
        "market_share",
        "Market share",
        "% of served customers",
        (Series("market_share", "percent"),),
    ),
    Chart(
        "retained", "Customers retained", "% of day-0 customers", (Series("retained", "retained"),)
    ),
    Chart(
        "iceberg",
        "Problems (solid) vs complaints (dotted): the iceberg",
        "cumulative count (log scale)",
        (
            Series("problems", "cumulative", "solid", "problems"),
            Series("complaints", "cumulative", "dot", "complaints"),
        ),
        log=True,
    ),
    Chart(
        "word_of_mouth",
        "Word of mouth: negative (solid) vs positive (dotted)",
        "cumulative listeners",
        (
            Series("wom_negative", "cumulative", "solid", "negative"),
            Series("wom_positive", "cumulative", "dot", "positive"),
        ),
    ),
    Chart("refunds", "Refunds", "cumulative refunds", (Series("refunds", "cumulative"),)),
    Chart(
        "broken_promises",
        "Broken promises (call-backs never made, promotions not delivered)",
        "cumulative broken promises",
        (Series("broken_promises", "cumulative"),),
    ),
    Chart("profit", "Profit", f"cumulative profit ({MONEY})", (Series("profit", "cumulative"),)),
    Chart(
        "nps", "Net promoter score", "promoters − detractors (points)", (Series("nps", "level"),)
    ),
)

#: Charts by name.
CHARTS_BY_NAME = {chart.name: chart for chart in CHARTS}

#: How each figure of :data:`cxsim.summary.FIGURES` is shown: (unit for people, factor).
#: Shares are stored as fractions and shown as percentages; money is in :data:`MONEY`.
FIGURE_UNITS: dict[str, tuple[str, float]] = {
    "retention": ("%", 100.0),
    "market_share": ("%", 100.0),
    "customers": ("people", 1.0),
    "nps": ("points", 1.0),
    "profit": (MONEY, 1.0),
    "npv": (MONEY, 1.0),
    "annual_churn": ("% a year", 100.0),
    "complaints_per_customer_year": ("", 1.0),  # the name says it
    "problems_per_complaint": ("", 1.0),
    "margin_per_customer_year": (MONEY, 1.0),
    "customer_lifetime_value": (MONEY, 1.0),
    "wom_positive": ("people", 1.0),
    "wom_negative": ("people", 1.0),
    "broken_promises": ("count", 1.0),
}


def figure_label(figure: str, difference: bool = False) -> str:
    """A figure's name for people, with its unit: ``retention (%)``, ``profit ($)``.

    A difference of a percentage is in percentage points.
    """
    unit = FIGURE_UNITS.get(figure, ("", 1.0))[0]
    if difference and unit.startswith("%"):
        unit = "percentage points" + unit[1:]
    name = figure.replace("_", " ")
    return f"{name} ({unit})" if unit and unit not in name else name


def shown(figure: str, value: Any) -> Any:
    """``value`` of ``figure`` in the unit the pages show it in (shares as percentages)."""
    if value is None:
        return None
    return float(value) * FIGURE_UNITS.get(figure, ("", 1.0))[1]


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
    elif how == "percent":
        values = 100.0 * values
    elif how == "retained":
        start = values[:, :1]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(start > 0, 100.0 * values / start, np.nan)
    return days, values


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily results with a ``replication`` column (a single market's ``results_frame()`` has none)."""
    if "replication" in frame.columns:
        return frame
    return frame.assign(replication=0)


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


def _band_traces(
    x: np.ndarray, values: np.ndarray, colour: str, company: str
) -> tuple[go.Scatter, go.Scatter]:
    """The upper edge and the filled lower edge of the middle-95% band over replications."""
    low, high = band_over_replications(values)
    edge = {"mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}
    upper = go.Scatter(x=x, y=high, legendgroup=company, **edge)
    lower = go.Scatter(
        x=x, y=low, fill="tonexty", fillcolor=rgba(colour, 0.18), legendgroup=company, **edge
    )
    return upper, lower


def add_chart(
    fig: go.Figure,
    chart: Chart,
    frame: pd.DataFrame,
    companies: list[str],
    *,
    row: int | None = None,
    col: int | None = None,
    legend: bool = True,
) -> None:
    """Draw ``chart`` into ``fig`` (at ``row``, ``col`` of a grid): a line per company and series.

    With replications each line is their mean and a band holds the middle 95% of them.
    """
    frame = tidy(frame)
    replications = frame["replication"].nunique()
    for j, company in enumerate(companies):
        colour = company_colour(j)
        for series in chart.series:
            days, values = _series(frame, company, series.metric, series.how)
            keep = _thin(days.size)
            x = days[keep]
            name = f"{company} — {series.label}" if series.label else company
            if replications > 1:
                for trace in _band_traces(x, values[:, keep], colour, company):
                    fig.add_trace(trace, row=row, col=col)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=mean_over_replications(values[:, keep]),
                    mode="lines",
                    name=name,
                    line={"color": colour, "dash": series.dash, "width": 2},
                    legendgroup=company,
                    showlegend=legend,
                    hovertemplate=f"{html.escape(name)}<br>day %{{x}}: %{{y:.4g}}<extra></extra>",
                ),
                row=row,
                col=col,
            )
    fig.update_yaxes(
        title_text=chart.ylabel, type="log" if chart.log else "linear", row=row, col=col
    )
    fig.update_xaxes(title_text="day", row=row, col=col)


def run_figure(
    frame: pd.DataFrame, companies: list[str], charts: tuple[Chart, ...] = CHARTS
) -> go.Figure:
    """The run's charts: one panel per entry of ``charts`` (default :data:`CHARTS`), two a row."""
    rows = math.ceil(len(charts) / 2)
    fig = make_subplots(
        rows=rows,
        cols=2,
        subplot_titles=[chart.title for chart in charts],
        vertical_spacing=0.07,
        horizontal_spacing=0.08,
    )
    for i, chart in enumerate(charts):
        add_chart(fig, chart, frame, companies, row=i // 2 + 1, col=i % 2 + 1, legend=i == 0)
    fig.update_layout(
        height=380 * rows,
        template="plotly_white",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        margin={"t": 80, "l": 60, "r": 20, "b": 40},
    )
    return fig


def chart_figure(frame: pd.DataFrame, companies: list[str], name: str) -> go.Figure:
    """One of the run's charts (a name of :data:`CHARTS_BY_NAME`) as a figure of its own."""
    chart = CHARTS_BY_NAME[name]
    fig = go.Figure()
    add_chart(fig, chart, frame, companies)
    fig.update_layout(
        title=chart.title,
        height=420,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 60, "l": 60, "r": 20, "b": 40},
    )
    return fig


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    x = float(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _figure_cell(figure: str, entry: dict[str, Any]) -> str:
    text = _fmt(shown(figure, entry["mean"]))
    ci = entry.get("ci95")
    if ci and ci[0] is not None:
        low, high = shown(figure, ci[0]), shown(figure, ci[1])
        text += f' <span class="muted">[{_fmt(low)}, {_fmt(high)}]</span>'
    return text


def summary_table(summary: dict[str, Any]) -> str:
    """The figures of a run (``RunResult.summary()``) as an HTML table, a column per company.

    Each row names its unit: shares are shown as percentages, money in :data:`MONEY`.
    """
    companies = summary["companies"]
    figures = list(companies[0]["figures"]) if companies else []
    head = "".join(f"<th>{html.escape(c['name'])}</th>" for c in companies)
    body = []
    for figure in figures:
        meaning = html.escape(companies[0]["figures"][figure]["meaning"])
        cells = "".join(f"<td>{_figure_cell(figure, c['figures'][figure])}</td>" for c in companies)
        body.append(
            f'<tr><td title="{meaning}">{html.escape(figure_label(figure))}</td>{cells}</tr>'
        )
    return f"<table><tr><th>figure</th>{head}</tr>{''.join(body)}</table>"


def market_table(summary: pd.DataFrame) -> str:
    """The figures of one market (``Market.summary()``) as the run report's table (no intervals)."""
    from cxsim.summary import FIGURES

    companies = [
        {
            "name": str(name),
            "figures": {
                figure: {"mean": _finite(row[figure]), "ci95": None, "meaning": meaning}
                for figure, meaning in FIGURES.items()
            },
        }
        for name, row in summary.iterrows()
    ]
    return summary_table({"companies": companies})


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


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
            f"cxsim {prov['cxsim']} (world {prov.get('world', '?')}), Python {prov['python']}, "
            f"NumPy {prov['numpy']}, "
            f"Mesa {prov['mesa']}, pandas {prov['pandas']}",
        ),
        ("platform", prov["platform"]),
    ]
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{cells}</table>"


#: Where a page gets plotly.js: ``inline`` embeds it (about 4.6 MB; the page works offline),
#: ``cdn`` loads it from plotly's CDN when the page is opened (a small page, needs the internet).
PlotlyJs = Literal["inline", "cdn"]
PLOTLY_JS: tuple[PlotlyJs, ...] = ("inline", "cdn")


def figure_html(fig: go.Figure, plotly_js: PlotlyJs = "inline") -> str:
    """A figure as an HTML fragment, with plotly.js embedded (``inline``) or from the CDN."""
    if plotly_js not in PLOTLY_JS:
        raise ValueError(f"plotly_js must be one of {', '.join(PLOTLY_JS)}, got {plotly_js!r}")
    include: bool | str = True if plotly_js == "inline" else "cdn"
    return fig.to_html(full_html=False, include_plotlyjs=include, config={"displaylogo": False})


def run_report(
    result: RunResult,
    frame: pd.DataFrame,
    summary: dict[str, Any],
    plotly_js: PlotlyJs = "inline",
) -> str:
    """The HTML page of a run: header, summary table, charts and provenance.

    ``plotly_js``: ``inline`` (default) embeds plotly.js, so the page works offline; ``cdn``
    loads it from plotly's CDN.
    """
    scenario = result.scenario
    run = summary["run"]
    chart = figure_html(run_figure(frame, result.companies), plotly_js)
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
<p class="muted">{table_note} {MONEY_NOTE}</p>
{summary_table(summary)}
<h2>Over time</h2>
<p class="muted">{band}</p>
{chart}
<h2>Provenance</h2>
{_provenance(summary)}
<details><summary>Scenario file</summary><pre>{html.escape(scenario.text)}</pre></details>
"""
    return _page(f"cxsim: {scenario.name}", body)


def comparison_figure(table: pd.DataFrame) -> go.Figure:
    """Mean paired differences (B - A) with 95% intervals: one panel per figure, one bar per position.

    Differences of shares are in percentage points, of money in :data:`MONEY`.
    """
    figures = list(dict.fromkeys(table["figure"]))
    fig = make_subplots(
        rows=1,
        cols=len(figures),
        subplot_titles=[figure_label(f, difference=True) for f in figures],
    )
    for i, figure in enumerate(figures):
        rows = table[table["figure"] == figure]
        labels = [
            f"{a} → {b}" if a != b else a
            for a, b in zip(rows["company_a"], rows["company_b"], strict=True)
        ]
        factor = FIGURE_UNITS.get(figure, ("", 1.0))[1]
        diff = factor * rows["difference"].to_numpy(dtype=np.float64)
        high = factor * (rows["ci95_high"] - rows["difference"]).to_numpy(dtype=np.float64)
        low = factor * (rows["difference"] - rows["ci95_low"]).to_numpy(dtype=np.float64)
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
    fig.update_annotations(font_size=12)
    fig.update_layout(
        height=420, template="plotly_white", margin={"t": 60, "l": 50, "r": 20, "b": 80}
    )
    return fig


def comparison_table(comparison: Comparison) -> str:
    """The paired differences of a comparison as an HTML table, each figure with its unit."""
    head = (
        '<tr><th>position</th><th class="l">figure</th><th>A</th><th>B</th><th>B − A</th>'
        "<th>95% CI</th></tr>"
    )
    rows = []
    for rec in comparison.table.to_dict("records"):
        figure = rec["figure"]
        company = (
            rec["company_a"]
            if rec["company_a"] == rec["company_b"]
            else f"{rec['company_a']} / {rec['company_b']}"
        )
        a, b = _fmt(shown(figure, rec["mean_a"])), _fmt(shown(figure, rec["mean_b"]))
        diff = _fmt(shown(figure, rec["difference"]))
        low, high = _fmt(shown(figure, rec["ci95_low"])), _fmt(shown(figure, rec["ci95_high"]))
        rows.append(
            f"<tr><td>{rec['position']}: {html.escape(company)}</td>"
            f"<td class='l'>{html.escape(figure_label(figure))}</td>"
            f"<td>{a}</td><td>{b}</td><td>{diff}</td><td>[{low}, {high}]</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def comparison_report(comparison: Comparison, plotly_js: PlotlyJs = "inline") -> str:
    """The HTML page of a comparison: the paired-difference table and its chart.

    ``plotly_js``: ``inline`` (default, works offline) or ``cdn``.
    """
    a, b = comparison.a, comparison.b
    chart = figure_html(comparison_figure(comparison.table), plotly_js)
    reps = len(a.replications)
    body = f"""
<h1>{html.escape(b.scenario.name)} minus {html.escape(a.scenario.name)}</h1>
<p>A: <b>{html.escape(a.scenario.label)}</b> — {html.escape(a.scenario.description)}<br>
B: <b>{html.escape(b.scenario.label)}</b> — {html.escape(b.scenario.description)}</p>
<p class="muted">{reps} paired replications on common random numbers (replication r of both is run
(seed {a.base_seed}, r)). Differences are B minus A, per company position; the interval is the 95% paired-t
confidence interval of the mean difference. Shares are percentages (their differences percentage
points); money is in dollars ($).</p>
{comparison_table(comparison)}
{chart}
<p class="muted">A sha256 {a.scenario.sha256}<br>B sha256 {b.scenario.sha256}</p>
"""
    return _page(f"cxsim compare: {b.scenario.name} - {a.scenario.name}", body)
