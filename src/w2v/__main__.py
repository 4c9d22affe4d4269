"""``python -m w2v``: the command line (see :mod:`w2v.cli`)."""

import sys

from .cli import main

sys.exit(main())
