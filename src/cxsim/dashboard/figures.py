"""Figures of the page, built from a :class:`~cxsim.dashboard.simulation.Run`.

Figures are plain plotly figure dicts rather than ``plotly.graph_objects``:
the objects validate every property as it is set, which took most of the
time of an answer (about half a second for the page's six charts); the dicts
take milliseconds, and the browser's plotly.js checks them anyway.

The network picture is coloured in the browser (one snapshot per day, see
:func:`network_payload` and :func:`snapshot_payload`), so the time slider and
the play button need no trip to the server. Both go as base64 typed arrays, the
snapshots as each person's changes from frame to frame (mostly zeros, which
gzip squeezes): a default-size answer is a few times smaller than as JSON numbers.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np
import pandas as pd

from cxsim.dashboard.simulation import Run
from cxsim.events import Event
from cxsim.palette import BAD, GOOD, NEUTRAL, PROSPECT_COLOUR, company_colour

Figure = dict[str, Any]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
GRID = "#ECEFF1"
ZERO_LINE = {"color": "#90A4AE", "width": 1}


# --------------------------------------------------------------------------- building blocks


def values(series: pd.Series | np.ndarray, digits: int = 4) -> list[Any]:
    """A series as a JSON-ready list (rounded; NaN becomes a gap)."""
    arr = np.round(np.asarray(series, dtype=np.float64), digits)
    out = arr.tolist()
    for i in np.flatnonzero(np.isnan(arr)).tolist():
        out[i] = None
    return out


def axis(**extra: Any) -> dict[str, Any]:
    """An axis in the page's style."""
    return {"gridcolor": GRID, "zerolinecolor": "#CFD8DC", "automargin": True, **extra}


def figure(data: list[dict[str, Any]], title: str, height: int = 300, **layout: Any) -> Figure:
    """A figure dict in the page's style."""
    base: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        "height": height,
        "margin": {"l": 50, "r": 15, "t": 48, "b": 40},
        "font": {"family": FONT, "size": 12, "color": "#2C3E50"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "legend": {"orientation": "h", "y": -0.2, "x": 0, "font": {"size": 11}},
        "hovermode": "x unified",
        "xaxis": axis(),
        "yaxis": axis(),
    }
    base.update(layout)
    return {"data": data, "layout": base}


def panels(count: int, titles: list[str], gap: float = 0.08, xtitle: str = "day") -> dict[str, Any]:
    """Layout of ``count`` side-by-side panels: axes ``x``/``y``, ``x2``/``y2``, ... and titles."""
    width = (1.0 - gap * (count - 1)) / count
    layout: dict[str, Any] = {"annotations": []}
    for k in range(count):
        suffix = "" if k == 0 else str(k + 1)
        left = k * (width + gap)
        layout[f"xaxis{suffix}"] = axis(
            domain=[left, left + width], anchor=f"y{suffix}", title={"text": xtitle, "standoff": 4}
        )
        layout[f"yaxis{suffix}"] = axis(anchor=f"x{suffix}")
        layout["annotations"].append(
            {
                "text": titles[k],
                "x": left + width / 2,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 12, "color": "#546E7A"},
            }
        )
    return layout


def zero_line(axis_suffix: str = "", line: dict[str, Any] | None = None) -> dict[str, Any]:
    """A horizontal line at 0 across panel ``axis_suffix``."""
    return {
        "type": "line",
        "xref": f"x{axis_suffix} domain",
        "yref": f"y{axis_suffix}",
        "x0": 0,
        "x1": 1,
        "y0": 0,
        "y1": 0,
        "line": line or ZERO_LINE,
    }


def line(
    x: Any, y: Any, name: str, color: str, *, panel: int = 1, legend: bool = True, **extra: Any
) -> dict[str, Any]:
    """A line trace on panel ``panel`` (1-based)."""
    suffix = "" if panel == 1 else str(panel)
    trace = {
        "type": "scatter",
        "mode": "lines",
        "x": values(x, 0),
        "y": values(y),
        "name": name,
        "legendgroup": name,
        "showlegend": legend,
        "line": {"color": color, "width": 2},
        "xaxis": f"x{suffix}",
        "yaxis": f"y{suffix}",
    }
    trace.update(extra)
    return trace


def _series(frame: pd.DataFrame, company: str, metric: str) -> pd.Series:
    rows = (frame["company"] == company).to_numpy()  # two columns taken, not the whole frame
    return pd.Series(frame[metric].to_numpy()[rows], index=frame["day"].to_numpy()[rows])


def empty_figure(title: str, message: str, height: int = 300) -> Figure:
    """A blank figure with a message in the middle."""
    return figure(
        [],
        title,
        height,
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 13},
            }
        ],
    )


# --------------------------------------------------------------------------- time series


def retention_series(frame: pd.DataFrame, company: str, window: int = 30) -> pd.Series:
    """Share (%) of the company's day-0 customers still with it, never having left.

    Falls back to annualised retention over the last ``window`` days when the
    results have no ``retained`` column.
    """
    if "retained" in frame.columns:
        retained = _series(frame, company, "retained").astype(float)
        start = float(retained.iloc[0]) if len(retained) else 0.0
        return retained / start * 100.0 if start > 0 else retained * np.nan
    churned = _series(frame, company, "churned").iloc[1:]
    customers = _series(frame, company, "customers").iloc[1:]
    lost = churned.rolling(window, min_periods=1).sum()
    exposure = customers.rolling(window, min_periods=1).sum() / 365.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (lost / exposure).replace([np.inf, -np.inf], np.nan)
    return (1.0 - rate).clip(lower=0.0) * 100.0


def share_figure(run: Run) -> Figure:
    """Market share and retention of each company over time."""
    data = []
    for i, name in enumerate(run.company_names):
        color = company_colour(i)
        share = _series(run.frame, name, "market_share") * 100.0
        kept = retention_series(run.frame, name)
        data.append(line(share.index, share, name, color))
        data.append(line(kept.index, kept, name, color, panel=2, legend=False))
    layout = panels(2, ["market share (%)", "day-0 customers still with it (%)"], gap=0.1)
    return figure(data, "Who keeps the customers", **layout)


def iceberg_figure(run: Run) -> Figure:
    """The complaint iceberg: complaints above the waterline, silent problems below."""
    names = run.company_names
    summary = run.summary
    complaints = [int(summary.loc[n, "complaints"]) for n in names]
    problems = [int(summary.loc[n, "problems"]) for n in names]
    serious = [int(summary.loc[n, "serious_problems"]) for n in names]
    silent = [max(p - c, 0) for p, c in zip(problems, complaints, strict=True)]
    colors = [company_colour(i) for i in range(len(names))]
    data = [
        {
            "type": "bar",
            "x": names,
            "y": complaints,
            "name": "complaints (what the company hears)",
            "marker": {"color": colors, "line": {"color": "#263238", "width": 1}},
            "text": [f"{c:,} complaints" for c in complaints],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{x}: %{y:,} complaints<extra></extra>",
        },
        {
            "type": "bar",
            "x": names,
            "y": [-s for s in silent],
            "name": "problems nobody complained about",
            "marker": {"color": colors, "opacity": 0.35, "line": {"color": colors, "width": 1}},
            "customdata": [[s, v] for s, v in zip(silent, serious, strict=True)],
            "hovertemplate": "%{x}: %{customdata[0]:,} silent problems<br>"
            "(%{customdata[1]:,} of all problems were serious)<extra></extra>",
        },
    ]
    span = max([*silent, 1])
    top = max([*complaints, 1])
    notes = [
        {
            "x": name,
            "y": -span * 1.02,
            "text": (
                f"1 complaint per {p / c:,.0f} problems" if c else f"{p:,} problems, no complaint"
            ),
            "showarrow": False,
            "yanchor": "top",
        }
        for name, c, p in zip(names, complaints, problems, strict=True)
    ]
    notes.append(
        {
            "x": 1,
            "xref": "paper",
            "y": 0,
            "text": "waterline",
            "showarrow": False,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"color": "#0277BD", "size": 11},
        }
    )
    return figure(
        data,
        "The complaint iceberg (whole run)",
        hovermode="closest",
        barmode="relative",
        bargap=0.45,
        yaxis=axis(
            title={"text": "people"},
            range=[-span * 1.25, max(top * 1.4, span * 0.25)],
            zeroline=False,
        ),
        shapes=[zero_line(line={"color": "#0277BD", "width": 2})],
        annotations=notes,
    )


def weekly(series: pd.Series) -> pd.Series:
    """Sums over weeks (days 1-7, 8-14, ...), indexed by the week's last day."""
    s = series.iloc[1:]
    week = (s.index.to_numpy() - 1) // 7
    out = s.groupby(week).sum()
    out.index = np.minimum((out.index + 1) * 7, int(s.index.max()))
    return out


def wom_figure(run: Run) -> Figure:
    """People hearing good stories (up) and bad stories (down) about each company, by week."""
    data = []
    for i, name in enumerate(run.company_names):
        color = company_colour(i)
        good = weekly(_series(run.frame, name, "wom_positive"))
        bad = weekly(_series(run.frame, name, "wom_negative"))
        data.append(line(good.index, good, f"{name}: good", color))
        data.append(
            line(
                bad.index,
                -bad,
                f"{name}: bad",
                color,
                line={"color": color, "width": 1.5, "dash": "dot"},
                customdata=values(bad, 0),
                hovertemplate="%{customdata:,}",
            )
        )
    return figure(
        data,
        "Word of mouth: good news up, bad news down",
        xaxis=axis(title={"text": "day", "standoff": 4}),
        yaxis=axis(title={"text": "people per week"}),
        shapes=[zero_line()],
    )


def money_figure(run: Run) -> Figure:
    """Running totals of refunds, broken promises and profit."""
    data = []
    for i, name in enumerate(run.company_names):
        color = company_colour(i)
        for panel, metric, scale in (
            (1, "refunds", 1.0),
            (2, "broken_promises", 1.0),
            (3, "profit", 1e-3),
        ):
            total = _series(run.frame, name, metric).cumsum() * scale
            data.append(line(total.index, total, name, color, panel=panel, legend=panel == 1))
    layout = panels(3, ["refunds paid", "broken promises", "profit (thousands)"])
    return figure(data, "Refunds, broken promises and profit (running totals)", **layout)


def nps_figure(run: Run) -> Figure:
    """Net promoter score of each company's customers over time."""
    data = []
    for i, name in enumerate(run.company_names):
        nps = _series(run.frame, name, "nps")
        data.append(line(nps.index, nps, name, company_colour(i)))
    return figure(
        data,
        "Net promoter score",
        xaxis=axis(title={"text": "day", "standoff": 4}),
        yaxis=axis(title={"text": "promoters - detractors (points)"}, range=[-100, 100]),
        shapes=[zero_line()],
    )


def difference_figure(a: Run, b: Run) -> Figure:
    """B - A per company for share, customers, NPS and running profit: the same luck, two policies."""
    kinds = (
        ("market_share", "market share (points)", 100.0, False),
        ("customers", "customers", 1.0, False),
        ("nps", "NPS (points)", 1.0, False),
        ("profit", "profit, running total (thousands)", 1e-3, True),
    )
    data = []
    for i, name in enumerate(b.company_names):
        color = company_colour(i)
        for panel, (metric, _, scale, cumulative) in enumerate(kinds, start=1):
            sa = _series(a.frame, a.company_names[i], metric)
            sb = _series(b.frame, name, metric)
            if cumulative:
                sa, sb = sa.cumsum(), sb.cumsum()
            diff = (sb - sa) * scale
            data.append(line(diff.index, diff, name, color, panel=panel, legend=panel == 1))
    layout = panels(len(kinds), [k[1] for k in kinds], gap=0.07)
    layout["shapes"] = [zero_line("" if k == 0 else str(k + 1)) for k in range(len(kinds))]
    return figure(
        data, "Difference B - A: your policies minus baseline A (same market, same luck)", **layout
    )


# --------------------------------------------------------------------------- the network


def base64_of(array: np.ndarray) -> str:
    """The bytes of ``array`` (C order, little-endian as a browser's typed arrays) as base64."""
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Person-major changes of int8 ``frames`` (frames, people): what the page sends of them.

    Row ``i`` holds person ``i``'s value on the first frame, then, frame by frame, how much it
    moved (modulo 256, as uint8). Most people change on few days, so the result is mostly
    zeros, which the answer's gzip squeezes about four times better than the frames
    themselves; :func:`frames_of` (and the page's ``DRAW_NETWORK_JS``) add the changes back
    up exactly.
    """
    by_person = np.ascontiguousarray(frames.T).astype(np.uint8)
    changes = by_person.copy()
    changes[:, 1:] -= by_person[:, :-1]  # uint8 wraps: exact for any two int8 values
    return changes


def frames_of(changes: np.ndarray) -> np.ndarray:
    """The int8 frames (frames, people) that :func:`frame_changes` encoded (its inverse)."""
    return np.cumsum(changes, axis=1, dtype=np.uint8).view(np.int8).T


#: Positions are sent as whole multiples of 1 / POSITION_SCALE (int16): 0.1 px on the page.
POSITION_SCALE = 10_000


def network_payload(run: Run) -> dict[str, Any]:
    """What the browser needs to draw the network: positions, contacts, ids, and their key.

    Positions go as int16 multiples of 1 / :data:`POSITION_SCALE` and contacts as uint16
    pairs of drawing-order indices, base64 (the page draws at most
    :data:`~cxsim.dashboard.controls.MAX_DRAWN` people); the browser rebuilds the lines.
    """
    pic = run.picture
    if pic.nodes.size > np.iinfo(np.uint16).max:
        raise ValueError(f"{pic.nodes.size} people drawn: at most 65,535 fit the picture's format")
    x = base64_of(np.rint(pic.x * POSITION_SCALE).astype("<i2"))
    y = base64_of(np.rint(pic.y * POSITION_SCALE).astype("<i2"))
    pairs = base64_of(np.stack([pic.edge_from, pic.edge_to], axis=1).astype("<u2"))
    return {
        "key": hashlib.sha1(f"{pic.kind}:{x}:{y}:{pairs}".encode("ascii")).hexdigest(),
        "scale": POSITION_SCALE,
        "x": x,
        "y": y,
        "pairs": pairs,
        "ids": pic.nodes.tolist(),
        "kind": pic.kind,
        "edges": int(pic.edge_from.size),
    }


def snapshot_payload(run: Run) -> dict[str, Any]:
    """Per-snapshot provider and own attitude of the drawn people, as :func:`frame_changes`."""
    return {
        "key": hashlib.sha1(run.key.encode("utf-8")).hexdigest(),
        "frames": int(run.provider.shape[0]),
        "n": int(run.provider.shape[1]),
        "stride": run.stride,
        "days": run.params.market.days,
        "provider": base64_of(frame_changes(run.provider)),
        "attitude": base64_of(frame_changes(run.attitude)),
        "names": run.company_names,
        "colors": [company_colour(i) for i in range(len(run.company_names))],
        "prospect_color": PROSPECT_COLOUR,
    }


# --------------------------------------------------------------------------- journeys

#: Event -> (lane, tone, words). Tone: +1 good, -1 bad, 0 neutral.
JOURNEY_EVENTS: dict[Event, tuple[str, int, str]] = {
    Event.satisfied: ("bought", +1, "bought; all went well"),
    Event.problem_minor: ("problem", -1, "had a minor problem"),
    Event.problem_serious: ("problem", -1, "had a serious problem"),
    Event.broken_promise: ("promise", -1, "a promise was broken"),
    Event.complained: ("voice", 0, "complained"),
    Event.stayed_silent: ("voice", -1, "said nothing"),
    Event.queue_wait: ("answer", -1, "waited in the queue"),
    Event.complaint_ignored: ("answer", -1, "complaint ignored or declined"),
    Event.callback_promised: ("promise", 0, "was promised a call-back"),
    Event.callback_kept: ("promise", +1, "the call-back came"),
    Event.fixed: ("answer", +1, "problem fixed"),
    Event.fixed_quickly: ("answer", +1, "fixed quickly"),
    Event.recovery_paradox: ("answer", +1, "delighted by the recovery"),
    Event.refund: ("answer", +1, "got a refund"),
    Event.apology: ("answer", +1, "got an apology"),
    Event.goodwill: ("answer", +1, "goodwill: made good though not the company's fault"),
    Event.crm_touch: ("CRM", 0, "CRM touch"),
    Event.crm_touch_open_problem: ("CRM", -1, "CRM touch while a problem was open"),
    Event.heard_negative: ("heard", -1, "heard a bad story"),
    Event.heard_positive: ("heard", +1, "heard a good story"),
    Event.told_negative: ("told", -1, "told others a bad story"),
    Event.told_positive: ("told", +1, "told others a good story"),
    Event.review_posted: ("review", 0, "posted a public review"),
    Event.review_read: ("review", 0, "read a review"),
    Event.review_answered: ("review", +1, "the company answered the review"),
    Event.joined: ("joined / left", +1, "became a customer"),
    Event.switched_in: ("joined / left", +1, "switched in"),
    Event.left: ("joined / left", -1, "left the market"),
    Event.switched_out: ("joined / left", -1, "switched away"),
}
LANES = (
    "joined / left",
    "review",
    "told",
    "heard",
    "CRM",
    "promise",
    "answer",
    "voice",
    "problem",
    "bought",
)
#: Routine events left out of the written story (they are in the picture).
ROUTINE = frozenset(
    {Event.purchase, Event.satisfied, Event.crm_touch, Event.queue_wait, Event.review_read}
)
_TONE_COLOR = {+1: GOOD, -1: BAD, 0: NEUTRAL}


def customer_events(run: Run, customer: int) -> pd.DataFrame:
    """The journey events of one drawn customer."""
    j = run.journey
    return j[j["customer"] == customer].reset_index(drop=True)


def attitude_series(run: Run, customer: int) -> pd.DataFrame | None:
    """Day, provider and own attitude of a drawn customer at each snapshot, or None if not drawn."""
    where = np.flatnonzero(run.picture.nodes == customer)
    if where.size == 0:
        return None
    i = int(where[0])
    days = np.arange(run.provider.shape[0]) * run.stride
    return pd.DataFrame(
        {"day": days, "provider": run.provider[:, i], "attitude": run.attitude[:, i] / 100.0}
    )


def journey_figure(run: Run, customer: int) -> Figure:
    """A customer's attitude toward its provider and its events in lanes, over time."""
    events = customer_events(run, customer)
    data: list[dict[str, Any]] = []
    att = attitude_series(run, customer)
    if att is not None:
        for k, name in enumerate(run.company_names):
            y = np.where(att["provider"] == k, att["attitude"], np.nan)
            if np.isnan(y).all():
                continue
            data.append(
                line(
                    att["day"],
                    y,
                    f"attitude as {name}'s customer",
                    company_colour(k),
                    connectgaps=False,
                    hovertemplate="day %{x}: attitude %{y:+.2f}<extra></extra>",
                )
            )
    known = events[events["event"].isin([e.name for e in JOURNEY_EVENTS])]
    if not known.empty:
        info = [JOURNEY_EVENTS[Event[e]] for e in known["event"]]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [int(d) for d in known["day"]],
                "y": [lane for lane, _, _ in info],
                "xaxis": "x",
                "yaxis": "y2",
                "marker": {
                    "color": [_TONE_COLOR[t] for _, t, _ in info],
                    "size": 9,
                    "symbol": "line-ns-open",
                    "line": {"width": 2},
                },
                "text": [
                    f"day {d}: {words}" + (f" ({c})" if c else "")
                    for d, c, (_, _, words) in zip(
                        known["day"], known["company"], info, strict=True
                    )
                ],
                "hovertemplate": "%{text}<extra></extra>",
                "showlegend": False,
            }
        )
    return figure(
        data,
        f"Journey of customer {customer}",
        380,
        hovermode="closest",
        xaxis=axis(
            anchor="y2", range=[0, run.params.market.days], title={"text": "day", "standoff": 4}
        ),
        yaxis=axis(domain=[0.68, 1.0], range=[-1.05, 1.05], dtick=1, title={"text": "attitude"}),
        yaxis2=axis(
            domain=[0.0, 0.6],
            anchor="x",
            type="category",
            categoryorder="array",
            categoryarray=list(LANES),
        ),
        shapes=[zero_line(line={"color": "#B0BEC5", "width": 1})],
    )


def journey_story(run: Run, customer: int, limit: int = 40) -> list[tuple[int, str, int]]:
    """The customer's notable events as (day, sentence, tone), runs of the same event merged."""
    events = customer_events(run, customer)
    lines: list[tuple[int, str, int]] = []
    last: tuple[str, str] | None = None
    count = 0
    first_day = 0
    for day, company, name in zip(events["day"], events["company"], events["event"], strict=True):
        kind = Event[name]
        if kind in ROUTINE or kind not in JOURNEY_EVENTS:
            continue
        _, tone, words = JOURNEY_EVENTS[kind]
        if last == (name, company) and lines:
            count += 1
            d0 = first_day
            lines[-1] = (d0, f"{words} ({company}) x{count}, days {d0}-{day}", tone)
            continue
        last, count, first_day = (name, company), 1, int(day)
        lines.append((int(day), f"{words}" + (f" ({company})" if company else ""), tone))
    if len(lines) > limit:
        dropped = len(lines) - limit
        lines = [*lines[:limit], (lines[limit][0], f"... and {dropped} more", 0)]
    return lines


def journey_counts(run: Run, customer: int) -> dict[str, int]:
    """How many purchases, problems, complaints, stories heard and told the customer had."""
    events = customer_events(run, customer)["event"].value_counts()

    def n(*names: str) -> int:
        return int(sum(events.get(name, 0) for name in names))

    return {
        "purchases": n("purchase"),
        "problems": n("problem_minor", "problem_serious"),
        "complaints": n("complained"),
        "broken promises": n("broken_promise"),
        "refunds": n("refund"),
        "heard": n("heard_negative", "heard_positive"),
        "told": n("told_negative", "told_positive"),
    }
