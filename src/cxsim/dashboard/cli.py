"""The ``cxsim dashboard`` command: serve the interactive dashboard.

``add_commands(subparsers)`` adds the subcommand to the ``cxsim`` parser;
``main(argv)`` runs it on its own (``python -m cxsim.dashboard``).

The page is served by waitress, a production WSGI server that runs on every
platform: one process whose threads answer the browsers, while simulations run
in ``--workers`` worker processes (:mod:`cxsim.dashboard.simulation`), so a
class's runs use every core and the threads stay free for the answers that
need no run. ``--debug`` (hidden; for developing the page) serves through
Flask's development server instead, with Dash's debugging tools.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from cxsim.errors import EXIT_BAD_INPUT, EXIT_MISSING_EXTRA, EXIT_OK, InputError

DEFAULT_PORT = 8050
DEFAULT_HOST = "127.0.0.1"
#: Threads answering browsers: enough for a class's requests to be in flight at once (most
#: wait for a worker process), so that answers needing no run are not queued behind runs.
SERVER_THREADS = 32

#: What serving on every address exposes (the --host help and the README say the same).
HOST_EXPOSES = (
    "--host 0.0.0.0 serves on every network this computer is on, so that a classroom's "
    "computers can connect: then anyone who can reach the port can use the page, with no "
    "password and over plain HTTP. They can run simulations (within the page's limits of size "
    "and length), and see the shipped stories and the scenario given with --scenario (its "
    "settings, its header and, for a network file, who knows whom in it). The server reads no "
    "file a browser names, and answers malformed requests with an error, but it has no "
    "passwords and no encryption: use it on a classroom's own network, never on the open "
    "internet."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options."""
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to serve on (default {DEFAULT_HOST}: this computer only). {HOST_EXPOSES}",
    )
    parser.add_argument(
        "--scenario",
        metavar="FILE",
        default=None,
        help="scenario file, or a shipped scenario's name, to start from (default manage_vs_fix)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run simulations in N worker processes, so that a classroom's changes use all "
        "cores (default 0: in the server's own process)",
    )
    parser.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def add_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``dashboard`` subcommand to ``cxsim``'s subparsers; returns its parser."""
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the interactive dashboard for students (needs the 'dashboard' extra)",
        description="Serve the interactive dashboard: move a lever and see how complaints, word "
        "of mouth and retention respond. Open the printed address in a browser.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_dashboard)
    return parser


def run_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted; returns the exit code."""
    if args.workers < 0:
        print("cxsim dashboard: --workers must be 0 or more", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        import waitress  # noqa: F401  (the server: checked before anything starts)

        from cxsim.dashboard.app import create_app
    except ImportError as err:
        print(
            f"cxsim dashboard: needs the dashboard extra ({err}); install it with "
            "pip install 'cxsim[dashboard]'",
            file=sys.stderr,
        )
        return EXIT_MISSING_EXTRA
    try:
        app = create_app(args.scenario)
    except InputError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    from cxsim import warmup
    from cxsim.dashboard import simulation
    from cxsim.dashboard.stories import default_story

    warmup.start(default_story().params)  # a fresh install compiles before the first answer
    simulation.use_workers(args.workers)
    if args.host in ("0.0.0.0", "::"):
        where = (
            f"http://localhost:{args.port}/ here, or http://<this computer's address>:"
            f"{args.port}/ from the classroom's computers"
        )
    else:
        host = "localhost" if args.host in ("127.0.0.1", "::1") else args.host
        where = f"http://{host}:{args.port}/"
    print(f"cxsim dashboard: open {where} in a browser (Ctrl+C stops it)", flush=True)
    try:
        if args.debug:  # Flask's development server, with Dash's debugging tools
            app.run(host=args.host, port=args.port, debug=True, threaded=True)
        else:
            serve(app.server, args.host, args.port)
    except OSError as err:  # the port is taken, or the address is not this computer's
        print(f"cxsim dashboard: cannot serve on {args.host}:{args.port}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exit_:  # werkzeug exits when the port is taken, after saying so
        return EXIT_BAD_INPUT if exit_.code else 0
    except KeyboardInterrupt:
        pass
    finally:
        simulation.use_workers(0)
    return EXIT_OK


def serve(wsgi_app: Any, host: str, port: int) -> None:
    """Serve ``wsgi_app`` through waitress on ``host``:``port`` until interrupted.

    Raises:
        OSError: the port is taken, or the address is not this computer's.

    """
    import waitress

    # waitress's own start-up line names an address students cannot always use (0.0.0.0);
    # the command prints where to open the page instead.
    logging.getLogger("waitress").setLevel(logging.WARNING)
    waitress.serve(wsgi_app, host=host, port=port, threads=SERVER_THREADS, ident="cxsim")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cxsim dashboard`` with ``argv`` (default: the process's arguments)."""
    parser = argparse.ArgumentParser(
        prog="cxsim dashboard",
        description="Serve the interactive dashboard for students.",
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code) if isinstance(exit_.code, int) else EXIT_BAD_INPUT
    return run_dashboard(args)
