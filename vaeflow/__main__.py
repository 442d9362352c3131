"""``python -m vaeflow``: see `vaeflow.cli`."""

import sys

from vaeflow.cli import main

sys.exit(main())
