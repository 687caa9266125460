"""``python -m cxsim.dashboard``: serve the dashboard (as ``cxsim dashboard``)."""

from __future__ import annotations

import sys

from cxsim.dashboard.cli import main

if __name__ == "__main__":
    sys.exit(main())
