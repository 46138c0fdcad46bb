"""``python -m dks.cli``: the ``dks`` command line."""

import sys

from dks.cli import main

sys.exit(main())
