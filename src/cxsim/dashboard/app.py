"""The Dash app factory: ``create_app(scenario)`` builds the page and its callbacks.

Dash serves its own front-end files (React, plotly.js) from the installed
package, so the page works offline, in a classroom without internet. Once
built, the server reads no scenario file, and no network file but those of
the stories it loaded here; malformed requests are answered 400 (see
:mod:`cxsim.dashboard.guard`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import dash
import flask

from cxsim.dashboard import callbacks, guard, layout
from cxsim.dashboard.stories import DEFAULTS, catalogue

#: The story the page opens with when none is given.
DEFAULT_STORY = "manage_vs_fix"
#: Answers smaller than this go as they are: compressing them would save too little.
COMPRESS_MIN_BYTES = 1_400
#: gzip level of answers: a run's answer at the page's default size (about 1.2 MB of JSON,
#: mostly base64 snapshots) shrinks about 12-fold in about 12 ms; level 6 saves a sixth more
#: in twice the time.
COMPRESS_LEVEL = 3


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
    compress_answers(app.server)
    return app


def compress_answers(server: flask.Flask) -> None:
    """Compress (gzip) the answers of ``server`` for browsers that accept it (all do).

    A run's answer carries the network's snapshots and its charts, about 1.2 MB of
    JSON (0.1 MB compressed); thirty students on a classroom's wireless network share its
    bandwidth.
    """

    @server.after_request
    def gzip_answer(response: flask.Response) -> flask.Response:
        if (
            response.direct_passthrough
            or response.is_streamed
            or response.status_code != 200
            or "Content-Encoding" in response.headers
            or flask.request.accept_encodings.quality("gzip") <= 0
        ):
            return response
        body = response.get_data()
        if len(body) < COMPRESS_MIN_BYTES:
            return response
        response.set_data(gzip.compress(body, COMPRESS_LEVEL))
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
