"""``python -m cxsim ...``: the ``cxsim`` command, for environments without its script on the path."""

import sys

from cxsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
