"""`python -m xo.sim`: the same as the `xo-sim` command."""

import sys

from xo.sim.cli import main

sys.exit(main())
