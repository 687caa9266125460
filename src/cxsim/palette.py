"""Colours: one palette for every page cxsim draws (run reports, sweep reports, the dashboard).

Companies are coloured by position in the scenario, from the Okabe-Ito palette
(distinguishable with colour-blindness): in the flagship the managing company
(position 0) is vermilion and the fixing company (position 1) blue, on every page.
"""

from __future__ import annotations

#: Company colours by position (Okabe-Ito first, then more).
COMPANY_COLOURS = (
    "#D55E00",  # vermilion
    "#0072B2",  # blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#7F7F7F",  # grey
    "#8C564B",  # brown
    "#BCBD22",  # olive
    "#17BECF",  # cyan
)
#: People who are nobody's customer.
PROSPECT_COLOUR = "#C9CED6"
#: Good news, bad news, neither.
GOOD = "#1A9850"
BAD = "#D73027"
NEUTRAL = "#7F8C8D"


def company_colour(position: int) -> str:
    """The colour of the company at ``position``."""
    return COMPANY_COLOURS[position % len(COMPANY_COLOURS)]


def rgba(hex_colour: str, alpha: float) -> str:
    """``#RRGGBB`` with opacity ``alpha``, as a CSS ``rgba(...)`` colour."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"
