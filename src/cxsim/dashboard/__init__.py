"""The interactive dashboard for students (``cxsim dashboard``; needs the ``dashboard`` extra).

A Dash app: controls for each company's policy levers, word of mouth, the
network and the luck; charts of market share and retention, the complaint
iceberg, word of mouth, refunds, broken promises, profit and NPS; the customer
network over time; a journey inspector; and a side-by-side mode that runs two
policies on the same market with the same luck.

Start it with ``cxsim dashboard`` or build it with :func:`create_app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dash

__all__ = ["create_app"]


def create_app(scenario: Any = None) -> dash.Dash:
    """Build the dashboard app (see :func:`cxsim.dashboard.app.create_app`)."""
    from cxsim.dashboard.app import create_app as _create_app

    return _create_app(scenario)
