"""``python -m cxsim.sweeps sweep PLAN --out DIR`` and ``python -m cxsim.sweeps analyze DIR``."""

import sys

from cxsim.sweeps.cli import main

if __name__ == "__main__":
    sys.exit(main())
