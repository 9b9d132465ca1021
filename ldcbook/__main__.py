"""``python -m ldcbook``: the command-line interface of :mod:`ldcbook.cli`."""

import sys

from ldcbook.cli import main

sys.exit(main())
