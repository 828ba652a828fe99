"""python -m crossrec: the crossrec command line (see crossrec.cli)."""

import sys

from .cli import main

sys.exit(main())
