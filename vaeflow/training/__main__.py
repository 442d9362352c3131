"""``python -m vaeflow.training train|evaluate`` (the same commands as ``python -m vaeflow``)."""

import sys

from vaeflow.training.cli_commands import main

sys.exit(main())
