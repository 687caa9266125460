"""The Dash app factory: ``create_app(scenario)`` builds the page and its callbacks.

Dash serves its own front-end files (React, plotly.js) from the installed
package, so the page works offline, in a classroom without internet. Once
built, the server reads no scenario file, and no network file but those of
the stories it loaded here; malformed requests are answered 400 (see
:mod:`cxsim.dashboard.guard`).
"""

from __future__ import annotations

from pathlib import Path

import dash

from cxsim.dashboard import callbacks, guard, layout
from cxsim.dashboard.stories import DEFAULTS, catalogue

#: The story the page opens with when none is given.
DEFAULT_STORY = "manage_vs_fix"


def create_app(scenario: str | Path | None = None) -> dash.Dash:
    """Build the dashboard.

    Args:
        scenario: a scenario file or a shipped scenario's name to start from; ``None``
            starts from the flagship story (``manage_vs_fix``), or the engine's
            defaults when the scenarios are not shipped alongside.

    Returns:
        The Dash app; serve it with ``app.run(host=..., port=...)``.

    Raises:
        cxsim.scenario.ScenarioError: the scenario cannot be read or does not fit the schema.

    """
    stories = catalogue(scenario)
    if scenario is not None:
        first = next(iter(stories.values()))  # the given file comes first
    else:
        first = stories.get(DEFAULT_STORY, stories[DEFAULTS])
    app = dash.Dash(
        __name__,
        title="cxsim: manage or fix?",
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title=None,
        on_error=guard.on_error,
    )
    app.index_string = layout.INDEX
    app.layout = layout.page(stories, first)
    callbacks.register(app, stories)
    guard.install(app)
    return app
